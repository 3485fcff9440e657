/**
 * Machine-readable kind of a {@link SatrnnError}:
 *
 * - `FILE_NOT_FOUND`, `FILE_UNREADABLE`: an input file is missing, is a folder, or cannot be read.
 * - `BAD_MODEL_SIZE`: a model file's length fits no hidden size (or not the one required).
 * - `BAD_MODEL_VALUES`: a model holds NaN or infinite weights.
 * - `DATA_TOO_SHORT`: a text has fewer bytes than needed (usually 2: one prediction).
 * - `BAD_OPTION`: an argument or option is out of range or malformed.
 * - `BACKEND_UNAVAILABLE`: the requested backend or instruction set is not available here.
 * - `ABORTED`: the caller's `AbortSignal` fired.
 * - `WRITE_FAILED`: an output file (model, checkpoint, report) could not be written.
 * - `TRAINING_DIVERGED`: training produced NaN or infinite weights (a `TrainingDivergedError`).
 * - `INTERNAL`: any other failure (a native call failed, or a value was read before it was known).
 *
 * The first six are usage or input errors: {@link SatrnnError.exitCode} is 2 for them, 1 otherwise.
 */
export type SatrnnErrorCode =
  | 'FILE_NOT_FOUND'
  | 'FILE_UNREADABLE'
  | 'BAD_MODEL_SIZE'
  | 'BAD_MODEL_VALUES'
  | 'DATA_TOO_SHORT'
  | 'BAD_OPTION'
  | 'BACKEND_UNAVAILABLE'
  | 'ABORTED'
  | 'WRITE_FAILED'
  | 'TRAINING_DIVERGED'
  | 'INTERNAL';

const USAGE_CODES: ReadonlySet<SatrnnErrorCode> = new Set<SatrnnErrorCode>([
  'FILE_NOT_FOUND',
  'FILE_UNREADABLE',
  'BAD_MODEL_SIZE',
  'BAD_MODEL_VALUES',
  'DATA_TOO_SHORT',
  'BAD_OPTION',
]);

/** Every error satrnn raises on purpose. `message` says what is wrong and what to do. */
export class SatrnnError extends Error {
  /** What kind of error this is: test this, not `message`. */
  readonly code: SatrnnErrorCode;
  /**
   * @param code - the error's kind
   * @param message - what is wrong and what to do about it
   * @param options - `cause`: the underlying error, if any
   */
  constructor(code: SatrnnErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SatrnnError';
    this.code = code;
  }
  /** Exit status for the CLI: 2 for bad usage or bad input, 1 for runtime failures. */
  get exitCode(): number {
    return USAGE_CODES.has(this.code) ? 2 : 1;
  }
}

/** The error raised when an operation is aborted: `SatrnnError('ABORTED', 'aborted')`. */
export function abortError(): SatrnnError {
  return new SatrnnError('ABORTED', 'aborted');
}

/** Throws the signal's abort as a SatrnnError('ABORTED') if it has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError();
}

/** @internal A short description of a value of the wrong type, for error messages. */
export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  if (typeof x === 'object') return `an object (${(x as object).constructor?.name ?? 'no prototype'})`;
  return typeof x === 'string' ? `the string '${x.length > 40 ? `${x.slice(0, 40)}…` : x}'` : `${typeof x} ${String(x)}`;
}
