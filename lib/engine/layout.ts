// layout(H): the raw sat-rnn parameter layout (00-common §1) generalised to any hidden
// size: Wx[H][256], Wh[H][H], bh[H], Wy[256][H], by[256], row-major, back to back. The one
// place in TypeScript that knows the offsets (native/core/layout.h is its twin).

/** Inputs and outputs of every sat-rnn: one per byte value, 256. */
export const VOCAB = 256;

/** Where each weight array starts in a model's weights (in floats, not bytes). */
export interface Layout {
  /** H, the hidden size this layout is for. */
  readonly hidden: number;
  /** Offset of Wx (`[H][256]`): always 0. */
  readonly Wx: number;
  /** Offset of Wh (`[H][H]`): `256*H`. */
  readonly Wh: number;
  /** Offset of bh (`[H]`). */
  readonly bh: number;
  /** Offset of Wy (`[256][H]`). */
  readonly Wy: number;
  /** Offset of by (`[256]`). */
  readonly by: number;
  /** Total floats, `H*H + 513*H + 256` (82,304 at H = 128). */
  readonly count: number;
}

/**
 * The parameter layout for H hidden units: Wx, Wh, bh, Wy, by back to back, each
 * row-major (H is not checked).
 */
export function layout(H: number): Layout {
  const Wh = H * VOCAB;
  const bh = Wh + H * H;
  const Wy = bh + H;
  const by = Wy + VOCAB * H;
  return { hidden: H, Wx: 0, Wh, bh, Wy, by, count: by + VOCAB };
}
