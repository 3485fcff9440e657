/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
export function progressBar(label: string): { update: (done: number, total: number) => void; stop: () => void } {
  const tty = process.stderr.isTTY === true;
  let last = -1;
  let drawn = false;
  const start = Date.now();
  return {
    update(done, total) {
      if (!tty || total <= 0) return;
      const pct = Math.floor((100 * done) / total);
      if (pct === last) return;
      last = pct;
      const width = 30;
      const fill = Math.round((width * done) / total);
      const secs = ((Date.now() - start) / 1000).toFixed(1);
      process.stderr.write(`\r${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${pct}% ${done}/${total} ${secs}s`);
      drawn = true;
    },
    stop() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
