// Text exactly as the original q3_neurons printed it (spec/q3_neurons.md).
import type { NeuronSuiteResult, ByteWeight } from './experiment.js';
import { printableByte } from '../../format/bytes.js';
import { sprintf } from '../../format/printf.js';

function weights(list: readonly ByteWeight[]): string {
  return list.map((x) => sprintf("'%c'(%.1f) ", printableByte(x.byte), x.weight)).join('');
}

/** The text the original q3_neurons printed, from a {@link NeuronSuiteResult}. */
export function formatNeuronSuiteText(r: NeuronSuiteResult): string {
  const B = r.baselineBpc;
  const out: string[] = [];
  out.push('=== Q3: Which Neurons Carry the Signal? ===', '', sprintf('Baseline bpc: %.4f', B), '');

  out.push('=== Readout Knockout (zero W_y column j) ===', '  j  bpc_knockout  delta_bpc  |W_y_col|  mean|h_j|');
  for (const j of r.knockout.ranking.slice(0, 30)) {
    const n = r.knockout.neurons[j]!;
    out.push(sprintf('  %-3d  %7.4f      %+.4f    %6.2f     %.4f', j, B + n.deltaBpc, n.deltaBpc, n.wyNorm, n.meanAbsH));
  }

  out.push('', '=== Cumulative Knockout (remove neurons in importance order) ===', '  n_removed  bpc       delta     removed_neurons');
  for (const row of r.cumulative.rows) {
    let line = sprintf('  %3d        %7.4f   %+.4f   ', row.removed, row.bpc, row.deltaBpc);
    if (row.removed >= 1 && row.removed <= 10) {
      for (const j of row.removedNeurons.slice(0, Math.min(row.removed, 5))) line += sprintf('h%d ', j);
      if (row.removed > 5) line += '...';
    }
    out.push(line);
  }

  out.push('', '=== Minimal Subset (keep only top-k neurons) ===', '  k_kept  bpc       pct_of_gain');
  // The original's expression, printed even where it is meaningless (baseline >= 8: a
  // negative or infinite percentage); the typed result reports undefined there.
  for (const row of r.keepTopK.rows) out.push(sprintf('  %3d      %7.4f   %6.1f%%', row.k, row.bpc, (100.0 * (8.0 - row.bpc)) / (8.0 - B)));

  out.push(
    '',
    '=== Per-Neuron Sign-Only Test ===',
    '(Replace h_j with sgn(h_j) for readout, keep dynamics full)',
    '  j  bpc_sign_j  delta  mean|h_j|  importance_rank',
  );
  for (const j of r.signOnly.ranking.slice(0, 20)) {
    const s = r.signOnly.neurons[j]!;
    const rank = r.knockout.neurons[j]!.rank - 1; // the original prints the 0-based position
    out.push(sprintf('  %-3d  %7.4f   %+.4f  %.4f      %d', j, B + s.deltaBpc, s.deltaBpc, s.meanAbsH, rank));
  }

  out.push('', '=== Top 10 Neurons: What Do They Predict? ===');
  for (const d of r.decode) {
    const n = r.knockout.neurons[d.neuron]!;
    out.push(sprintf('h%-3d (delta=%.4f, |Wy|=%.2f, mean|h|=%.4f):', d.neuron, n.deltaBpc, n.wyNorm, n.meanAbsH));
    out.push(`  Promotes: ${weights(d.promotes)}`);
    out.push(`  Demotes:  ${weights(d.demotes)}`);
  }
  return out.join('\n') + '\n';
}
