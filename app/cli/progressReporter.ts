// Progress on a terminal: a live bar when stderr is a TTY, occasional plain lines otherwise,
// nothing at all with --json (stdout stays machine-readable either way: progress goes to stderr).
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  update(label: string, done: number, total: number): void;
  stop(): void;
}

export function createProgressReporter(enabled: boolean): ProgressReporter {
  if (!enabled) return { update() {}, stop() {} };
  if (!process.stderr.isTTY) {
    let lastLabel = '';
    let lastPrint = 0;
    return {
      update(label, done, total) {
        const now = Date.now();
        if (label !== lastLabel || done === total || now - lastPrint > 5000) {
          process.stderr.write(`${label}: ${done}/${total}\n`);
          lastLabel = label;
          lastPrint = now;
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: '{label} [{bar}] {value}/{total} {percentage}% | {eta_formatted} left',
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic);
  let started = false;
  let currentLabel = '';
  return {
    update(label, done, total) {
      if (!started) {
        bar.start(total, done, { label });
        started = true;
      } else if (label !== currentLabel) {
        bar.setTotal(total);
      }
      currentLabel = label;
      bar.update(done, { label });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
