// Where the package's own files are. Found by walking up from this module to the first
// folder holding package.json, rather than a fixed number of '..': the same code runs as
// lib/*.ts (tests), dist/*.js and the CLI bundle (dist/bundle/, see scripts/bundle.mjs),
// each at a different depth.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; ) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(from, '..'); // not in a package: the old layout's guess
    dir = up;
  }
}

/**
 * The package's root folder (the one with package.json, assets/, dist/, build/).
 * @internal
 */
export const packageRoot: string = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
