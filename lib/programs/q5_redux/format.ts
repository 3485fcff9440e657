// Text exactly as the original q5_redux printed it (spec q5_redux.md).
import { sprintf } from '../../format/printf.js';
import type { PruneRow, PruneStudyResult } from './experiment.js';

/** The text the original q5_redux printed, from a {@link PruneStudyResult}. */
export function formatPruneStudyText(r: PruneStudyResult): string {
  const B = r.baselineBpc;
  const H = r.hidden;
  const out: string[] = ['=== Q5: The Sat-RNN Redux ===', '', sprintf('Baseline bpc: %.4f', B), ''];
  out.push('Top 10 neurons by knockout importance:');
  for (const j of r.knockout.ranking.slice(0, 10)) out.push(sprintf('  h%-3d: delta=+%.4f', j, r.knockout.neurons[j]!.deltaBpc));
  const prune = (title: string, rows: readonly PruneRow[]): void => {
    out.push('', title, '  threshold  pct_zeroed  bpc      delta');
    for (const row of rows) out.push(sprintf('  %5.1f      %5.1f%%     %7.4f  %+.4f', row.threshold, row.pctZeroed, row.bpc, row.deltaBpc));
  };
  prune('=== W_h Pruning ===', r.whPruning);
  prune('=== W_x Pruning ===', r.wxPruning);
  out.push('', '=== Combined: Top-K Neurons + W_h Pruning ===', '  k  wh_thr  wy_pct_kept  wh_pct_kept  bpc      delta');
  for (const c of r.combined)
    out.push(sprintf('  %3d  %4.1f    %5.1f%%        %5.1f%%       %7.4f  %+.4f', c.k, c.whThreshold, c.wyPctKept, c.whPctKept, c.bpc, c.deltaBpc));
  const d = r.whMagnitudes;
  out.push('', '=== Weight Magnitude Distribution ===', 'W_h percentiles:');
  for (const { p, value } of d.percentiles) out.push(sprintf('  %d%%: %.3f', p, value));
  out.push(sprintf('  min: %.3f, max: %.3f, mean: %.3f', d.min, d.max, d.mean));
  const x = r.redux;
  out.push('', '=== Redux Parameter Count ===', sprintf('Full model: %d params', x.fullParams));
  out.push(sprintf('Redux (k=%d, wh_thr=%.1f): %d params (%.1f%% of full)', x.k, x.whThreshold, x.params, (100.0 * x.params) / x.fullParams));
  out.push(sprintf('  W_y: %d (only %d columns)', x.wyParams, x.k));
  out.push(sprintf('  W_h: %d (%.1f%% of full)', x.whParams, (100.0 * x.whParams) / (H * H)));
  out.push(sprintf('  W_x: %d (full, for dynamics)', x.wxParams));
  return `${out.join('\n')}\n`;
}
