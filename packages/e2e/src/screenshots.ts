import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));

/** Width and height from a PNG's IHDR chunk, or null when `png` is not a PNG. */
export function pngSize(png: Uint8Array): { width: number; height: number } | null {
  const bytes = Buffer.from(png);
  if (bytes.length < 24 || bytes.readUInt32BE(0) !== 0x89504e47 || bytes.toString('latin1', 12, 16) !== 'IHDR') return null;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/**
 * Writes docs/screenshots/<name> when it does not exist yet or UPDATE_SCREENSHOTS=1, so an ordinary test
 * run leaves the committed images alone (font rendering differs between machines). Returns whether it wrote.
 */
export function saveScreenshot(name: string, png: Uint8Array): boolean {
  const path = `${SCREENSHOT_DIR}${name}`;
  if (existsSync(path) && process.env.UPDATE_SCREENSHOTS !== '1') return false;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, png);
  return true;
}
