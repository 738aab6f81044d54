/**
 * A one-line progress bar on stderr for long CLI work. On a terminal it redraws in place; otherwise
 * (CI, pipes) it prints a plain line at most every `everyMs`, so logs stay readable.
 */
export interface Progress {
  update(done: number, total: number, note?: string): void;
  finish(note?: string): void;
}

export function createProgress(
  label: string,
  opts: { stream?: NodeJS.WriteStream; everyMs?: number } = {},
): Progress {
  const out = opts.stream ?? process.stderr;
  const tty = Boolean(out.isTTY);
  const started = Date.now();
  let lastPrint = 0;
  let lastLine = '';
  const render = (done: number, total: number, note = '') => {
    const width = 30;
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * width);
    const secs = (Date.now() - started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const eta = rate > 0 && total > done ? `eta ${Math.ceil((total - done) / rate)}s` : '';
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${(ratio * 100).toFixed(0)}% ${rate.toFixed(1)}/s ${eta} ${note}`.trimEnd();
  };
  return {
    update(done, total, note) {
      const line = render(done, total, note);
      const now = Date.now();
      if (tty) out.write(`\r${line}\x1b[K`);
      else if (line !== lastLine && now - lastPrint >= (opts.everyMs ?? 2000)) {
        out.write(`${line}\n`);
        lastPrint = now;
      }
      lastLine = line;
    },
    finish(note) {
      out.write(`${tty ? '\r' : ''}${lastLine}${note ? ` ${note}` : ''}${tty ? '\x1b[K' : ''}\n`);
    },
  };
}
