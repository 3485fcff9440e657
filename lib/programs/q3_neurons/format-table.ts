import type { ReadoutKnockoutResult } from './experiment.js';
import { sprintf } from '../../format/printf.js';

/** Aligned, human-readable knockout table for one model. */
export function formatKnockoutTable(label: string, r: ReadoutKnockoutResult, top?: number): string {
  const lines = [
    `model ${label}: hidden=${r.neurons.length}, baseline ${sprintf('%.4f', r.baseline)} bpc`,
    '  rank  neuron  bpc_knockout  delta_bpc  |Wy_col|  mean|h|',
  ];
  r.ranking.slice(0, top).forEach((j, rank) => {
    const n = r.neurons[j]!;
    lines.push(sprintf('  %4d  %6d  %12.4f  %+9.4f  %8.2f  %7.4f', rank + 1, j, n.knockoutBpc, n.delta, n.wyNorm, n.meanAbsH));
  });
  return `${lines.join('\n')}\n`;
}

/** One CSV row per (model, neuron), full precision. */
export function formatKnockoutCsv(runs: { label: string; result: ReadoutKnockoutResult }[], top?: number): string {
  const q = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = ['model,rank,neuron,baseline_bpc,knockout_bpc,delta_bpc,wy_norm,mean_abs_h'];
  for (const { label, result: r } of runs)
    r.ranking.slice(0, top).forEach((j, rank) => {
      const n = r.neurons[j]!;
      rows.push([q(label), rank + 1, j, r.baseline, n.knockoutBpc, n.delta, n.wyNorm, n.meanAbsH].join(','));
    });
  return `${rows.join('\n')}\n`;
}
