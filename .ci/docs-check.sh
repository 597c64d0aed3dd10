#!/usr/bin/env bash
# The documentation site as readers get it. Needs `pnpm build` (for the code samples) and `pnpm docs:build`
# (the API reference plus the static site in docs/.vitepress/dist) to have run. Fails when a code sample of a
# guide or README does not type-check against the built packages, when an internal link or #anchor of the
# built site is broken, or when the home page, a guide or an API page does not render in Chromium or the
# search finds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
node docs/scripts/check-snippets.mjs
node docs/scripts/check-links.mjs
node docs/scripts/browser-check.mjs
