import path from 'node:path';
import { SatrnnError, describeValue } from './errors.js';
import { readRegularPrefix, regularFileStat, writeFileAtomic } from './io.js';

import { VOCAB, layout } from './engine/layout.js';

export { VOCAB };
/** Hidden size of the original sat-rnn models and of the original programs: 128 units. */
export const REFERENCE_HIDDEN = 128;

/** Number of float32 parameters of a sat-rnn with H hidden units (82,304 at H = 128). */
export function paramCount(hidden: number): number {
  return layout(hidden).count;
}

/** H such that paramCount(H) == floats, or null when no hidden size fits. */
export function hiddenFromParamCount(floats: number): number | null {
  // H^2 + 513 H + 256 - floats = 0; solve, then confirm with integers.
  const disc = 513 * 513 - 4 * (256 - floats);
  if (disc < 0) return null;
  const h = Math.round((-513 + Math.sqrt(disc)) / 2);
  for (const c of [h - 1, h, h + 1]) if (c >= 1 && paramCount(c) === floats) return c;
  return null;
}

/**
 * A sat-rnn: 256 one-hot inputs -> H tanh units -> 256 softmax outputs. All weights live in
 * one Float32Array in the raw file layout (Wx, Wh, bh, Wy, by); the named fields are views.
 */
export class Model {
  /** H, the number of hidden units. */
  readonly hidden: number;
  /**
   * All `paramCount(hidden)` weights (float32) in file order: Wx, Wh, bh, Wy, by. The named
   * arrays below are views of it: writing one writes the other.
   */
  readonly weights: Float32Array;
  /** `Wx[i*256 + x]`: input byte x -> unit i (H x 256, row-major). */
  readonly Wx: Float32Array;
  /** `Wh[i*H + j]`: unit j (previous step) -> unit i (H x H, row-major). */
  readonly Wh: Float32Array;
  /** `bh[i]`: hidden bias of unit i (H values). */
  readonly bh: Float32Array;
  /** `Wy[o*H + j]`: unit j -> output byte o (256 x H, row-major). */
  readonly Wy: Float32Array;
  /** `by[o]`: output bias of byte o (256 values). */
  readonly by: Float32Array;
  /** Where the model came from (file path or a label), for messages and provenance. */
  readonly source: string;

  /**
   * Wraps `weights` (not copied) as a model with `hidden` units.
   *
   * @param weights - exactly `paramCount(hidden)` finite floats in file order
   * @param hidden - H, an integer >= 1
   * @param source - a file path or label for messages (default `'<memory>'`)
   * @throws SatrnnError `BAD_OPTION` for a bad `hidden`, `BAD_MODEL_SIZE` when the length
   *   does not match, `BAD_MODEL_VALUES` for a NaN or infinite weight
   */
  constructor(weights: Float32Array, hidden: number, source = '<memory>') {
    if (!(weights instanceof Float32Array))
      throw new SatrnnError('BAD_OPTION', `model weights must be a Float32Array (got ${describeValue(weights)}); use loadModel(file) or parseModel(bytes)`);
    if (!Number.isInteger(hidden) || hidden < 1)
      throw new SatrnnError('BAD_OPTION', `hidden size must be an integer >= 1 (got ${hidden})`);
    if (weights.length !== paramCount(hidden))
      throw new SatrnnError(
        'BAD_MODEL_SIZE',
        `${source}: ${weights.length} weights do not match hidden=${hidden} (needs ${paramCount(hidden)})`,
      );
    const H = hidden;
    this.hidden = H;
    this.weights = weights;
    this.source = source;
    const l = layout(H);
    this.Wx = weights.subarray(l.Wx, l.Wh);
    this.Wh = weights.subarray(l.Wh, l.bh);
    this.bh = weights.subarray(l.bh, l.Wy);
    this.Wy = weights.subarray(l.Wy, l.by);
    this.by = weights.subarray(l.by, l.count);
    assertFinite(weights, H, source);
  }

  /** The raw file bytes of this model: every weight as little-endian float32, 4 bytes each. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.weights.length * 4);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < this.weights.length; i++) dv.setFloat32(i * 4, this.weights[i]!, true);
    return out;
  }

  /** A copy whose weights can be changed without touching this model. */
  clone(source = this.source): Model {
    return new Model(new Float32Array(this.weights), this.hidden, source);
  }
}

function arrayAndIndex(index: number, H: number): string {
  const l = layout(H);
  const parts: [string, number, number, number][] = [
    ['Wx', l.Wx, l.Wh, VOCAB],
    ['Wh', l.Wh, l.bh, H],
    ['bh', l.bh, l.Wy, 1],
    ['Wy', l.Wy, l.by, H],
    ['by', l.by, l.count, 1],
  ];
  for (const [name, start, end, cols] of parts) {
    if (index >= start && index < end) {
      const i = index - start;
      return cols === 1 ? `${name}[${i}]` : `${name}[${Math.floor(i / cols)}][${i % cols}]`;
    }
  }
  return `#${index}`;
}

/** @internal Throws `BAD_MODEL_VALUES` naming the first NaN or infinite weight of `w` (a model of H hidden units). */
export function assertFinite(w: Float32Array, H: number, source: string): void {
  // Fast path (typed-array includes finds NaN); the loop below only names the bad weight.
  if (!w.includes(NaN) && !w.includes(Infinity) && !w.includes(-Infinity)) return;
  for (let i = 0; i < w.length; i++) {
    const v = w[i]!;
    if (!Number.isFinite(v))
      throw new SatrnnError(
        'BAD_MODEL_VALUES',
        `${source}: weight ${arrayAndIndex(i, H)} is ${v} (NaN/Inf weights are not allowed); retrain or repair the model`,
      );
  }
}

/** Options of {@link parseModel} and {@link loadModel}. */
export interface ParseModelOptions {
  /** Require this hidden size instead of inferring it from the size. */
  hidden?: number;
  /**
   * With `hidden`: accept and ignore bytes after the model (the originals' behaviour),
   * reported via onWarning. Default false: extra bytes are an error.
   */
  allowTrailing?: boolean;
  /** Receives the one-line warning about ignored trailing bytes (default: not reported). */
  onWarning?: (message: string) => void;
}

/**
 * Parses raw model bytes (00-common §1 layout: little-endian float32 Wx, Wh, bh, Wy, by),
 * for any H unless `opts.hidden` is given. The weights are copied out of `bytes`.
 *
 * @param bytes - the file's bytes: `4 * paramCount(H)` of them
 * @param source - file path or label, used in messages and kept as `Model.source` (default `'<memory>'`)
 * @throws SatrnnError `BAD_MODEL_SIZE` when the length fits no H (or not `opts.hidden`),
 *   `BAD_MODEL_VALUES` for a NaN or infinite weight
 */
export function parseModel(bytes: Uint8Array, source = '<memory>', opts: ParseModelOptions = {}): Model {
  const { hidden: H, used } = modelSize(bytes.length, source, opts);
  const floats = new Float32Array(used / 4);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, used);
  for (let i = 0; i < floats.length; i++) floats[i] = dv.getFloat32(i * 4, true);
  return new Model(floats, H, source);
}

/**
 * The hidden size of a model file of `length` bytes and how many of them are the model, or
 * the BAD_MODEL_SIZE error (parseModel's rules; the trailing-bytes warning goes out here).
 */
function modelSize(length: number, source: string, opts: ParseModelOptions): { hidden: number; used: number } {
  if (opts.hidden !== undefined) {
    const H = opts.hidden;
    const need = paramCount(H) * 4;
    if (length < need)
      throw new SatrnnError(
        'BAD_MODEL_SIZE',
        `${source}: model file is ${length} bytes, but a model with hidden=${H} needs ${need}; is it truncated?`,
      );
    if (length > need) {
      if (!opts.allowTrailing)
        throw new SatrnnError(
          'BAD_MODEL_SIZE',
          `${source}: model file is ${length} bytes, expected exactly ${need} for hidden=${H}`,
        );
      opts.onWarning?.(`${source}: ignoring ${length - need} bytes after the ${need}-byte model`);
    }
    return { hidden: H, used: need };
  }
  const H = length % 4 === 0 ? hiddenFromParamCount(length / 4) : null;
  if (H === null)
    throw new SatrnnError(
      'BAD_MODEL_SIZE',
      `${source}: ${length} bytes is not the size of any sat-rnn model (4*(H*H + 513*H + 256) bytes; 329216 for H=128)`,
    );
  return { hidden: H, used: length };
}

// A model file is a regular file (symbolic links followed) whose size is checked before it
// is read: devices (/dev/zero), FIFOs and sockets are refused without being opened (a model
// has an exact size, and a FIFO's open would wait for a writer), and only the model's own
// bytes are read (trailing bytes, where allowed, are counted from the size, never read).
const MODEL_FILE_HINT = 'a model is a file of 4*(H*H + 513*H + 256) bytes (329216 for H=128): save it to a file first';

/**
 * Checks a model file without reading it: a regular file whose size fits a model (or
 * `opts.hidden`). Returns its hidden size and the bytes to read.
 *
 * @throws SatrnnError as {@link loadModel}, without reading the file
 */
export function checkModelFile(file: string, opts: ParseModelOptions = {}): { hidden: number; used: number } {
  const st = regularFileStat(file, 'model', MODEL_FILE_HINT);
  return modelSize(st.size, file, { ...opts, onWarning: () => {} });
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reads and parses a model file (see {@link parseModel}); `file` becomes `Model.source`.
 * The file's type and size are checked before it is read, and only the model's bytes are
 * read: a device, FIFO or socket is refused unopened, and trailing bytes (with
 * `allowTrailing`) are never read.
 *
 * @throws SatrnnError `FILE_NOT_FOUND` or `FILE_UNREADABLE` (not a regular file, a symbolic
 *   link loop, no permission, …), then as parseModel
 */
export function loadModel(file: string, opts: ParseModelOptions = {}): Model {
  const st = regularFileStat(file, 'model', MODEL_FILE_HINT);
  const { hidden, used } = modelSize(st.size, file, opts);
  const bytes = readRegularPrefix(file, 'model', used);
  if (bytes.length !== used) throw new SatrnnError('BAD_MODEL_SIZE', `${file}: the model file shrank to ${bytes.length} bytes while it was read`);
  // A fresh, aligned buffer: on a little-endian host its bytes are the floats (no copy).
  if (littleEndian && bytes.byteOffset === 0) return new Model(new Float32Array(bytes.buffer, 0, used / 4), hidden, file);
  return parseModel(bytes, file, { hidden });
}

/**
 * Writes a model's bytes ({@link Model.toBytes}) atomically: a temp file in the same folder,
 * then a rename.
 *
 * @throws SatrnnError `WRITE_FAILED` (the temp file is removed)
 */
export function saveModel(model: Model, file: string): void {
  writeFileAtomic(file, model.toBytes(), 'model');
}
