/**
 * Builds the small C reference programs in test/native with the system compiler.
 * Returns null (after a loud warning) when no compiler works; under CI=true the caller
 * must fail instead of skipping, so a missing compiler cannot hide a regression.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export const inCI = process.env['CI'] === 'true';

export interface NativeBin {
  path: string;
  cleanup: () => void;
}

export function buildNative(source: string): NativeBin | null {
  const dir = mkdtempSync(join(tmpdir(), 'satrnn-native-'));
  const out = join(dir, source.replace(/\.c$/, ''));
  const cc = process.env['CC'] ?? 'cc';
  try {
    execFileSync(cc, ['-O2', '-o', out, join(here, source), '-lm'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    console.warn(`WARNING: cannot compile test/native/${source} with ${cc}; C comparison tests are skipped (${String(err)})`);
    return null;
  }
  return { path: out, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
