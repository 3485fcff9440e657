/**
 * layout(H): the raw sat-rnn parameter layout (00-common §1) generalised to any hidden
 * size: Wx[H][256], Wh[H][H], bh[H], Wy[256][H], by[256], row-major, back to back. The one
 * place in TypeScript that knows the offsets (native/core/layout.h is its twin).
 */
export const VOCAB = 256;

export interface Layout {
  readonly hidden: number;
  /** Float offsets of each array. */
  readonly Wx: number;
  readonly Wh: number;
  readonly bh: number;
  readonly Wy: number;
  readonly by: number;
  /** Total floats (82,304 at H = 128). */
  readonly count: number;
}

export function layout(H: number): Layout {
  const Wh = H * VOCAB;
  const bh = Wh + H * H;
  const Wy = bh + H;
  const by = Wy + VOCAB * H;
  return { hidden: H, Wx: 0, Wh, bh, Wy, by, count: by + VOCAB };
}
