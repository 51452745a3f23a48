// A request body written to a private temporary file as it arrives, so that storing it afterwards goes as
// fast as the disk, not as the client uploads: the database transaction that stores it never waits on the
// network (on PGlite, whose one connection ingest shares, a slow upload would otherwise stall everything).
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface SpooledFile {
  path: string;
  bytes: number;
  remove(): Promise<void>;
}

/** Writes `body` to a new file; throws `tooLarge()` (and keeps nothing) once it passes `maxBytes`. */
export async function spoolToFile(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<SpooledFile> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pulse-upload-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  const file = path.join(dir, 'body');
  let bytes = 0;
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Uint8Array>) {
        for await (const piece of source) {
          bytes += piece.length;
          if (bytes > maxBytes) throw tooLarge();
          yield piece;
        }
      },
      createWriteStream(file, { mode: 0o600 }),
    );
  } catch (error) {
    await remove();
    throw error;
  }
  return { path: file, bytes, remove };
}
