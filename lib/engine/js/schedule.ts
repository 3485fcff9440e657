// The js backend's scheduling policy, next to its kernels: which work runs in-process and
// how a readout batch is cut into tiles for worker threads. Same tiling rule as
// native/core/parallel.h (tiles never change a result; the rule only balances the work).

/** Below this many multiply-adds a chunk runs in-process (a worker round trip costs more). */
export const WORKER_THRESHOLD = 5e6;

/** In-process work is cut into slices of about this many multiply-adds, with a turn of the event loop between them. */
export const SLICE_WORK = 2e7;

const SPLIT_POSITIONS_BELOW_VARIANTS_PER_THREAD = 64;
const TILES_PER_THREAD = 4;
const ONE_VARIANT_TILE_PER_THREAD_BELOW = 512;

export interface Tile {
  v0: number;
  v1: number;
  t0: number;
  t1: number;
}

/** native/core/parallel.h readout_tiling, as a list of tiles. */
export function readoutTiles(V: number, T: number, threads: number): Tile[] {
  const splitPositions = threads > 1 && T >= 2 * threads && V < SPLIT_POSITIONS_BELOW_VARIANTS_PER_THREAD * threads;
  const per = splitPositions ? TILES_PER_THREAD * threads : V < ONE_VARIANT_TILE_PER_THREAD_BELOW ? threads : TILES_PER_THREAD * threads;
  const span = splitPositions ? T : V;
  if (span === 0) return [];
  const size = Math.ceil(span / per);
  const tiles: Tile[] = [];
  for (let a = 0; a < span; a += size) {
    const b = Math.min(span, a + size);
    tiles.push(splitPositions ? { v0: 0, v1: V, t0: a, t1: b } : { v0: a, v1: b, t0: 0, t1: T });
  }
  return tiles;
}
