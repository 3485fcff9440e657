'use strict';
// Loads the CLI bundle (dist/bundle/: CommonJS chunks that require each other by './name')
// as require() would, except that each chunk is compiled with V8's code cache when
// dist/bundle/ holds one made from exactly its bytes (scripts/code-cache.cjs writes them
// after a short run of the CLI, so they also hold the functions a run compiles lazily).
// Compiling ~150 KB of JavaScript then becomes a deserialisation: ~12 ms less of a ~200 ms
// `satrnn reproduce q3_neurons`. A cache of another Node or V8 (or other V8 flags) is
// rejected by V8 itself, and the chunk compiles as usual: slower, never wrong.
//
// Cache file `<chunk>.v8cache`: the chunk's byte length (uint32 little-endian), the chunk's
// bytes, then V8's data. V8 checks only a source's length against its cache, so the copy is
// compared with the chunk as read, byte for byte: an edited or rebuilt chunk never runs
// another source's bytecode.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const HEAD = '(function (exports, require, module, __filename, __dirname) {';
const TAIL = '\n})';

const readOrUndefined = (file) => {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
};

// The V8 data of `cacheFile` when it was made from `source` (a Buffer), else undefined.
function cachedDataFor(cacheFile, source) {
  const c = readOrUndefined(cacheFile);
  if (!c || c.length < 4) return undefined;
  const n = c.readUInt32LE(0);
  if (n !== source.length || c.length <= 4 + n || !c.subarray(4, 4 + n).equals(source)) return undefined;
  return c.subarray(4 + n);
}

/**
 * Loads `<dir>/cli.cjs` and the chunks it requires. With `produce`, no cache is read and
 * `writeCaches()` writes one per chunk loaded so far (call it after the run that should be
 * cached).
 */
function loadBundle(dir, { produce = false } = {}) {
  const modules = new Map();
  const loaded = []; // [file, source Buffer, vm.Script]
  // For tests and diagnostics: the chunks loaded, and those compiled from a cache.
  const seen = (globalThis[Symbol.for('satrnn.bundleLoader')] ??= { files: [], fromCache: [] });
  const load = (file) => {
    const known = modules.get(file);
    if (known) return known.exports;
    const source = fs.readFileSync(file);
    const cachedData = produce ? undefined : cachedDataFor(`${file}.v8cache`, source);
    const script = new vm.Script(HEAD + source.toString('utf8') + TAIL, { filename: file, cachedData });
    seen.files.push(file);
    if (cachedData && !script.cachedDataRejected) seen.fromCache.push(file);
    if (produce) loaded.push([file, source, script]);
    const module = { exports: {}, id: file, filename: file, loaded: false };
    modules.set(file, module);
    // Chunks name each other './<file>'; anything else (commander, node:*) is required from
    // here, which resolves the package's own dependencies as the chunks' folder would.
    const chunkRequire = (id) => (id.startsWith('./') ? load(path.join(dir, id.slice(2))) : require(id));
    script.runInThisContext().call(module.exports, module.exports, chunkRequire, module, file, dir);
    module.loaded = true;
    return module.exports;
  };
  const cli = load(path.join(dir, 'cli.cjs'));
  return {
    cli,
    writeCaches() {
      for (const [file, source, script] of loaded) {
        const head = Buffer.alloc(4);
        head.writeUInt32LE(source.length, 0);
        fs.writeFileSync(`${file}.v8cache`, Buffer.concat([head, source, script.createCachedData()]));
      }
      return loaded.length;
    },
  };
}

module.exports = { loadBundle };
