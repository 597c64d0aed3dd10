import { defineConfig } from 'vitest/config';
import workspace from './vitest.workspace.js';

export default defineConfig({
  test: {
    projects: workspace,
    // In CI a JSON report beside the console output lets .ci/run print one closing total.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'node_modules/.cache/vitest-report.json' }]] : ['default'],
  },
});
