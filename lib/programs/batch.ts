// Experiments as data: a Batch lists the variants an experiment needs and assembles its
// result from their mean bpc. Batches of several experiments fuse into one (one pass over
// the text, variants with the same dynamics sharing a forward pass), which is how suites
// such as q3_neurons and q5_redux run in few passes without hand-written plumbing.
import type { Analysis, Variant } from '../analysis.js';
import type { RunOptions } from '../engine/types.js';

/** An experiment as data: the variants it evaluates and how their results become an `R`. */
export interface Batch<R> {
  /** The variants to evaluate, in the order `assemble` receives their bpc. */
  readonly variants: readonly Variant[];
  /** Builds the result from the variants' mean bpc (same order as `variants`). */
  assemble(bpc: Float64Array, an: Analysis): Promise<R> | R;
}

/** A Batch of these variants and this assemble function. */
export function batch<R>(variants: readonly Variant[], assemble: Batch<R>['assemble']): Batch<R> {
  return { variants, assemble };
}

/** The tuple of results of a tuple of batches: `Batch<A>, Batch<B>` gives `[A, B]`. */
/** The tuple of results of a list of batches, in the same order (what {@link fuse} returns). */
export type BatchResults<T extends readonly Batch<unknown>[]> = { [K in keyof T]: T[K] extends Batch<infer R> ? R : never };

/**
 * One batch holding every variant of `parts` (in order, part by part); its result is the
 * tuple of their results, assembled part by part in order.
 */
export function fuse<T extends readonly Batch<unknown>[]>(...parts: T): Batch<BatchResults<T>> {
  const variants = parts.flatMap((p) => p.variants);
  return batch(variants, async (bpc, an) => {
    const out: unknown[] = [];
    let off = 0;
    for (const p of parts) {
      out.push(await p.assemble(bpc.subarray(off, off + p.variants.length), an));
      off += p.variants.length;
    }
    return out as BatchResults<T>;
  });
}

/** Evaluates a batch on an analysis (one pass) and assembles its result. */
export async function runBatch<R>(an: Analysis, b: Batch<R>, opts: RunOptions = {}): Promise<R> {
  return b.assemble(await an.meanBpc(b.variants, opts), an);
}
