// A log line written while the simulator's status line shows takes a line of its own, and the status
// line is drawn again under it (issue 29: pino lines glued onto the status line).
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, endStatusLine, showStatusLine } from '../../src/app/log.js';
import { waitFor } from '../helpers/wait.js';

const written: string[] = [];
const realWrite = process.stdout.write.bind(process.stdout);
afterEach(() => {
  process.stdout.write = realWrite;
  written.length = 0;
});

describe('the status line', () => {
  it('is cleared before a log line and drawn again after it', async () => {
    const log = createLogger('info', { pretty: true });
    // The terminal: standard output's writes, as they happen.
    process.stdout.write = ((chunk: string | Uint8Array) =>
      written.push(String(chunk)) > 0) as typeof process.stdout.write;
    showStatusLine('simulator: 25 devices');
    log.info('ingest subscribed');
    await waitFor(() => written.join('').includes('ingest subscribed'));
    endStatusLine();
    // Erase the line, draw the status; erase it, the log line on a line of its own, the status again below.
    const [before, status, rest] = written.join('').split('\r\u001b[K');
    expect(before).toBe('');
    expect(status).toBe('simulator: 25 devices');
    expect(rest).toMatch(/^[^\n]*ingest subscribed[^\n]*\nsimulator: 25 devices\n$/);
  });
});
