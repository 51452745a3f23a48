import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { build as prettyStream } from 'pino-pretty';

/**
 * The one line a terminal shows at its bottom (the simulator's status), redrawn under every log line:
 * a log line written while it shows starts on a line of its own instead of gluing onto it.
 */
let statusLine = '';
const CLEAR_LINE = '\r\u001b[K';

/** Shows `text` as the terminal's status line (a TTY only: the caller checks). */
export function showStatusLine(text: string): void {
  statusLine = text;
  process.stdout.write(`${CLEAR_LINE}${text}`);
}

/** Ends the status line: what is written next starts on a fresh line. */
export function endStatusLine(): void {
  if (statusLine) process.stdout.write('\n');
  statusLine = '';
}

/** Standard output, with the status line taken away before each write and drawn again after it. */
const terminal = new Writable({
  write(chunk: Buffer, _encoding, done) {
    if (statusLine) process.stdout.write(CLEAR_LINE);
    process.stdout.write(chunk);
    if (statusLine) process.stdout.write(statusLine);
    done();
  },
});

/** Structured logs; human-readable when a person is watching a terminal. */
export function createLogger(level: string, options: { pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY;
  const base = { level, base: undefined };
  if (!pretty) return pino(base);
  // In this thread rather than a transport's worker: the worker would write past the status line.
  return pino(
    base,
    prettyStream({ colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss', destination: terminal }),
  );
}
