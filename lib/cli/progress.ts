import { fstatSync } from 'node:fs';

/** Options of {@link progressBar}. */
export interface ProgressOptions {
  /** What the counts are, shown after them and in the rate (`rows` → `12/40 rows, 3.1 rows/s`); default none. */
  unit?: string;
}

/**
 * The text of a progress line: label, bar, percent, counts, elapsed time, and once some work
 * is done the rate and the time left at that rate (ETA).
 */
export function progressLine(label: string, done: number, total: number, elapsedMs: number, opts: ProgressOptions = {}): string {
  const width = 30;
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const fill = Math.round(width * frac);
  const unit = opts.unit ? ` ${opts.unit}` : '';
  const secs = elapsedMs / 1000;
  let line = `${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${Math.floor(100 * frac)}% ${done}/${total}${unit} ${secs.toFixed(1)}s`;
  if (done > 0 && secs > 0) {
    const rate = done / secs;
    const left = Math.max(0, total - done) / rate;
    line += `, ${rate >= 100 ? rate.toFixed(0) : rate.toPrecision(2)}${unit || ''}/s, ETA ${formatDuration(left)}`;
  }
  return line;
}

/** 42s, 3m05s, 1h02m. */
function formatDuration(s: number): string {
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/** Shortest time between two redraws when the percentage has not changed (the rate and ETA still move). */
const REDRAW_MS = 500;

/**
 * Whether stderr is a terminal. Asked of the fd first: making `process.stderr` for a file or
 * a pipe loads Node's stream modules (~4 ms of a short run) only to learn that it is not one.
 */
export function stderrIsTTY(): boolean {
  try {
    if (!fstatSync(2).isCharacterDevice()) return false;
  } catch {
    return false; // fd 2 closed
  }
  return process.stderr.isTTY === true;
}

/** A one-line progress bar on stderr, drawn only when stderr is a terminal, with rate and ETA. */
export function progressBar(label: string, opts: ProgressOptions = {}): { update: (done: number, total: number) => void; stop: () => void } {
  const tty = stderrIsTTY();
  let lastPct = -1;
  let lastDraw = 0;
  let drawn = false;
  const start = Date.now();
  return {
    update(done, total) {
      if (!tty || total <= 0) return;
      const now = Date.now();
      const pct = Math.floor((100 * done) / total);
      if (pct === lastPct && now - lastDraw < REDRAW_MS) return;
      lastPct = pct;
      lastDraw = now;
      process.stderr.write(`\r${progressLine(label, done, total, now - start, opts)}\x1b[K`);
      drawn = true;
    },
    stop() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
