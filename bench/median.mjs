// The benchmarks' one timing rule (notes/conventions.md): one warm-up run, then the median
// of `runs` timed runs, in milliseconds; and the line naming the machine beside each table.
import os from 'node:os';

export async function median(fn, runs) {
  await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export function machineLine(runs) {
  return `machine: ${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores, node ${process.versions.node}; ${new Date().toISOString().slice(0, 10)}; median of ${runs} after 1 warm-up`;
}
