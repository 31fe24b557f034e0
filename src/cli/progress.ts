// A progress bar on stderr when it is a terminal (ETA, MiB/s, raw vs stored); nothing otherwise.
// With no total (a pipe being read) it shows a running count and rate instead of a bar.
import cliProgress from 'cli-progress';
import { formatBytes } from './output.js';

export interface ProgressBar {
  update(done: number, payload?: Record<string, string>): void;
  stop(): void;
}

export function progressBar(total: number | undefined, label: string, enabled = process.stderr.isTTY === true): ProgressBar {
  if (!enabled || total === 0) return { update() {}, stop() {} };
  const started = Date.now();
  if (total === undefined) return countingLine(label, started);
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {done} of {total_h} | {speed} | ETA {eta_formatted} {extra}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { done: '0 B', total_h: formatBytes(total), speed: '', extra: '' });
  return {
    update(done, payload = {}) {
      const secs = (Date.now() - started) / 1000;
      bar.update(done, {
        done: formatBytes(done),
        speed: secs > 0 ? `${(done / 1048576 / secs).toFixed(0)} MiB/s` : '',
        extra: '',
        ...payload,
      });
    },
    stop() {
      bar.stop();
    },
  };
}

function countingLine(label: string, started: number): ProgressBar {
  let shown = false;
  return {
    update(done, payload = {}) {
      const secs = (Date.now() - started) / 1000;
      const speed = secs > 0 ? ` | ${(done / 1048576 / secs).toFixed(0)} MiB/s` : '';
      process.stderr.write(`\r${label} ${formatBytes(done)}${speed} ${payload.extra ?? ''}\x1b[K`);
      shown = true;
    },
    stop() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
