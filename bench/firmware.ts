// How firmware images are best stored (ADR 027): `npm run bench:firmware -- [--engine pglite|postgres|both]
// [--mib 32] [--ranges 200] [--rounds 3]`. On each engine, writes a random image of `mib` MiB in one
// transaction and reads it back, whole (a chunk per transaction, as a download does) and as `ranges` random
// ranges of 64 KiB–1 MiB (resumed downloads), for: bytea chunks as Pulse stores them (storeImage,
// readImageRange) at 64 KiB, 256 KiB and 1 MiB, 256 KiB chunks compressed as PostgreSQL does by default
// (STORAGE EXTENDED), and large objects (lo_put / lo_get of 256 KiB). Reports the median MiB/s of `rounds`
// rounds, each variant in turn; writes bench/results/firmware-*.json.
import { randomBytes, randomInt } from 'node:crypto';
import type { Engine } from '../src/db/connection.js';
import { narrow, type Database } from '../src/db/database.js';
import { readImageRange, storeImage, type InImageTenant } from '../src/model/firmware.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/databases.js';
import { benchArgs, saveResult } from './results.js';

const args = benchArgs();
const ENGINES: Engine[] =
  (args.get('engine') ?? 'both') === 'both' ? ['pglite', 'postgres'] : [args.get('engine') as Engine];
const MIB = Number(args.get('mib') ?? 32);
const RANGES = Number(args.get('ranges') ?? 200);
const ROUNDS = Number(args.get('rounds') ?? 3);
const KiB = 1024;
const size = MIB * 1024 * KiB;
const image = randomBytes(size);
/** What a request body delivers at a time. */
const PIECE = 64 * KiB;

async function* pieces(): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < size; offset += PIECE) yield image.subarray(offset, offset + PIECE);
}

/** Random ranges of 64 KiB–1 MiB, the same for every variant. */
const ranges = Array.from({ length: RANGES }, () => {
  const length = randomInt(64 * KiB, 1024 * KiB);
  const start = randomInt(0, size - length);
  return { start, end: start + length - 1 };
});
const rangeBytes = ranges.reduce((sum, r) => sum + r.end - r.start + 1, 0);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mibPerSecond = (bytes: number, ms: number) => Math.round((bytes / 1024 / 1024 / (ms / 1000)) * 10) / 10;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

interface Variant {
  name: string;
  write(): Promise<void>;
  read(range: { start: number; end: number }): Promise<Buffer>;
  clear(): Promise<void>;
}

function chunkVariant(db: Database, chunkBytes: number, name: string): Variant {
  let stored: { image_id: string; chunk_bytes: number } | undefined;
  const inTenant: InImageTenant = (fn) => db.withService((tx) => fn(narrow(tx, 'bench')));
  return {
    name,
    async write() {
      const created = await db.withTenant('bench', (tx) =>
        storeImage(tx, { version: name, model: null, filename: null, created_by: null }, pieces(), {
          maxBytes: size,
          chunkBytes,
        }),
      );
      stored = { image_id: created.image_id, chunk_bytes: chunkBytes };
    },
    async read(range) {
      const parts: Buffer[] = [];
      for await (const part of readImageRange(inTenant, stored!, range)) parts.push(part);
      return Buffer.concat(parts);
    },
    clear: () => db.withTenant('bench', (tx) => tx.query(`DELETE FROM firmware_images`)).then(() => undefined),
  };
}

function largeObjectVariant(database: TestDatabase): Variant {
  const chunkBytes = 256 * KiB;
  let oid: number | undefined;
  const pool = database.connection.pool;
  return {
    name: 'large object, 256 KiB',
    async write() {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        oid = (await client.query<{ oid: number }>(`SELECT lo_create(0) AS oid`)).rows[0]!.oid;
        for (let offset = 0; offset < size; offset += chunkBytes)
          await client.query(`SELECT lo_put($1, $2, $3)`, [oid, offset, image.subarray(offset, offset + chunkBytes)]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    },
    async read(range) {
      const parts: Buffer[] = [];
      // A read per chunk-sized piece, each on its own, as the chunked download reads.
      for (let at = range.start; at <= range.end; at += chunkBytes) {
        const length = Math.min(chunkBytes, range.end - at + 1);
        parts.push(
          (await pool.query<{ data: Buffer }>(`SELECT lo_get($1, $2, $3) AS data`, [oid, at, length])).rows[0]!.data,
        );
      }
      return Buffer.concat(parts);
    },
    clear: () => pool.query(`SELECT lo_unlink($1)`, [oid]).then(() => undefined),
  };
}

const rows: Record<string, string | number>[] = [];
for (const engine of ENGINES) {
  const database = await createTestDatabase(engine);
  try {
    const { db, connection } = database;
    await db.withService((tx) => tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('bench', 'bench')`));
    const setStorage = (storage: 'EXTERNAL' | 'EXTENDED') =>
      connection.pool.query(`ALTER TABLE firmware_chunks ALTER COLUMN data SET STORAGE ${storage}`);
    const variants: { variant: Variant; storage: 'EXTERNAL' | 'EXTENDED' }[] = [
      { variant: chunkVariant(db, 64 * KiB, 'bytea chunks, 64 KiB'), storage: 'EXTERNAL' },
      { variant: chunkVariant(db, 256 * KiB, 'bytea chunks, 256 KiB'), storage: 'EXTERNAL' },
      { variant: chunkVariant(db, 1024 * KiB, 'bytea chunks, 1 MiB'), storage: 'EXTERNAL' },
      { variant: chunkVariant(db, 256 * KiB, 'bytea chunks, 256 KiB, compressed'), storage: 'EXTENDED' },
      { variant: largeObjectVariant(database), storage: 'EXTERNAL' },
    ];
    const timings = new Map<string, { write: number[]; read: number[]; ranges: number[] }>();
    // Rounds, each variant in turn: the machine's noise and warm-up fall on all of them alike.
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const { variant, storage } of variants) {
        await setStorage(storage);
        const write = await timed(() => variant.write());
        let whole: Buffer | undefined;
        const read = await timed(async () => (whole = await variant.read({ start: 0, end: size - 1 })));
        if (!whole!.equals(image)) throw new Error(`${variant.name} read back other bytes`);
        const rangesMs = await timed(async () => {
          for (const range of ranges) {
            const bytes = await variant.read(range);
            if (!bytes.equals(image.subarray(range.start, range.end + 1)))
              throw new Error(`${variant.name}: bad range`);
          }
        });
        await variant.clear();
        const seen = timings.get(variant.name) ?? { write: [], read: [], ranges: [] };
        seen.write.push(write);
        seen.read.push(read);
        seen.ranges.push(rangesMs);
        timings.set(variant.name, seen);
      }
    }
    for (const [variant, seen] of timings) {
      const row = {
        engine,
        variant,
        write_mib_s: mibPerSecond(size, median(seen.write)),
        read_mib_s: mibPerSecond(size, median(seen.read)),
        ranged_read_mib_s: mibPerSecond(rangeBytes, median(seen.ranges)),
        range_ms_avg: Math.round((median(seen.ranges) / RANGES) * 10) / 10,
      };
      rows.push(row);
      console.log(row);
    }
  } finally {
    await database.drop();
  }
}
console.table(rows);
console.log(`image ${MIB} MiB, ${RANGES} ranges, median of ${ROUNDS} rounds`);
saveResult('firmware', { image_mib: MIB, ranges: RANGES, rounds: ROUNDS, results: rows });
