/** Machine-readable error kinds; the CLI maps BAD_* / *_INPUT codes to exit status 2. */
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
  readonly code: SatrnnErrorCode;
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

export function abortError(): SatrnnError {
  return new SatrnnError('ABORTED', 'aborted');
}

/** Throws the signal's abort as a SatrnnError('ABORTED') if it has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError();
}
