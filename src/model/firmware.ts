// Firmware images for over-the-air updates (issue 30) and their SQL. An image is stored from a stream in
// one transaction, as bytea chunks of CHUNK_BYTES (ADR 027): its SHA-256 and size are computed on the way,
// and an image over the limit or a failed upload leaves nothing behind. Customers manage their tenant's
// under row-level security, operators list every tenant's, and devices download through the pipeline's
// role, a chunk per short transaction, so a slow download never holds a connection.
import { createHash } from 'node:crypto';
import type { OperatorTx, TenantScope, TenantTx } from '../db/database.js';
import { isUniqueViolation } from '../lib/sqlstate.js';
import { AppError } from '../errors.js';

/**
 * What a chunk holds (the last one of an image less). ADR 027: 1 MiB reads faster, but a download holds a
 * chunk or two in memory, and on PGlite each chunk read holds the one connection ingest shares.
 */
export const CHUNK_BYTES = 256 * 1024;

export interface FirmwareImage {
  image_id: string;
  tenant_id: string;
  version: string;
  /** The device model it is for; null: every model. */
  model: string | null;
  filename: string | null;
  size_bytes: number;
  /** Hex. */
  sha256: string;
  created_by: string | null;
  created_at: Date;
}

/** An image with how its bytes are laid out, for reading them. */
export interface StoredImage extends FirmwareImage {
  chunk_bytes: number;
}

export interface NewImage {
  version: string;
  model: string | null;
  filename: string | null;
  created_by: string | null;
}

const COLUMNS = `image_id, tenant_id, version, model, filename, size_bytes, sha256, created_by, created_at`;
const EMPTY_SHA256 = createHash('sha256').digest('hex');

export const imageView = ({ chunk_bytes: _, ...image }: StoredImage): FirmwareImage => image;

export const imageTooLarge = (maxBytes: number) =>
  new AppError(
    'TOO_LARGE',
    `The image is larger than ${maxBytes} bytes, the most FIRMWARE_MAX_BYTES allows; nothing was stored. Upload a smaller image or raise FIRMWARE_MAX_BYTES`,
    { max_bytes: maxBytes },
  );

/**
 * Stores an image from `bytes` in the caller's transaction: the image row first (so a duplicate version
 * is refused before any byte is written), then its chunks as they fill, then its size and digest. Throws
 * before writing past `maxBytes`; the caller's transaction then rolls everything back.
 */
export async function storeImage(
  tx: TenantTx,
  image: NewImage,
  bytes: AsyncIterable<Uint8Array>,
  limits: { maxBytes: number; chunkBytes?: number },
): Promise<FirmwareImage> {
  const chunkBytes = limits.chunkBytes ?? CHUNK_BYTES;
  let imageId: string;
  try {
    // Inserted as the empty image: a valid row at every point, completed below.
    const { rows } = await tx.query<{ image_id: string }>(
      `INSERT INTO firmware_images (tenant_id, version, model, filename, size_bytes, sha256, chunk_bytes, created_by)
       VALUES ($1, $2, $3, $4, 0, $5, $6, $7) RETURNING image_id`,
      [tx.tenantId, image.version, image.model, image.filename, EMPTY_SHA256, chunkBytes, image.created_by],
    );
    imageId = rows[0]!.image_id;
  } catch (error) {
    if (isUniqueViolation(error)) {
      const what = image.model === null ? 'for every model' : `for model ${image.model}`;
      throw new AppError(
        'CONFLICT',
        `Firmware ${image.version} ${what} exists already; delete it first or upload it as another version`,
      );
    }
    throw error;
  }

  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(chunkBytes);
  let filled = 0;
  let seq = 0;
  let size = 0;
  const writeChunk = (data: Buffer) =>
    tx.query(`INSERT INTO firmware_chunks (tenant_id, image_id, seq, data) VALUES ($1, $2, $3, $4)`, [
      tx.tenantId,
      imageId,
      seq++,
      data,
    ]);
  for await (const piece of bytes) {
    size += piece.length;
    if (size > limits.maxBytes) throw imageTooLarge(limits.maxBytes);
    hash.update(piece);
    for (let offset = 0; offset < piece.length;) {
      const taken = Math.min(chunkBytes - filled, piece.length - offset);
      chunk.set(piece.subarray(offset, offset + taken), filled);
      filled += taken;
      offset += taken;
      if (filled === chunkBytes) {
        await writeChunk(chunk);
        filled = 0;
      }
    }
  }
  if (filled > 0) await writeChunk(chunk.subarray(0, filled));
  const { rows } = await tx.query<FirmwareImage>(
    `UPDATE firmware_images SET size_bytes = $2, sha256 = $3 WHERE image_id = $1 RETURNING ${COLUMNS}`,
    [imageId, size, hash.digest('hex')],
  );
  return rows[0]!;
}

/** A tenant's images (customers; under RLS), or every tenant's or one's (operators): newest first. */
export async function listImages(
  tx: TenantTx | OperatorTx,
  filter: { tenantId?: string | undefined },
): Promise<FirmwareImage[]> {
  const { rows } = await tx.query<FirmwareImage>(
    `SELECT ${COLUMNS} FROM firmware_images WHERE ($1::text IS NULL OR tenant_id = $1)
     ORDER BY created_at DESC, image_id LIMIT 1000`,
    [filter.tenantId ?? null],
  );
  return rows;
}

export async function findImage(tx: TenantScope, imageId: string): Promise<StoredImage | undefined> {
  const { rows } = await tx.query<StoredImage>(
    `SELECT ${COLUMNS}, chunk_bytes FROM firmware_images WHERE tenant_id = $1 AND image_id = $2`,
    [tx.tenantId, imageId],
  );
  return rows[0];
}

/** Deletes an image and its bytes; undefined when the tenant has no such image. */
export async function deleteImage(tx: TenantTx, imageId: string): Promise<FirmwareImage | undefined> {
  const { rows } = await tx.query<FirmwareImage>(
    `DELETE FROM firmware_images WHERE tenant_id = $1 AND image_id = $2 RETURNING ${COLUMNS}`,
    [tx.tenantId, imageId],
  );
  return rows[0];
}

/** Runs one short transaction in the image's tenant. */
export type InImageTenant = <T>(fn: (tx: TenantScope) => Promise<T>) => Promise<T>;

/**
 * Bytes `start` to `end` (inclusive) of an image, a chunk's worth at a time, each read in a transaction of
 * its own when the consumer asks for it. Throws when the image is deleted midway.
 */
export async function* readImageRange(
  inTenant: InImageTenant,
  image: Pick<StoredImage, 'image_id' | 'chunk_bytes'>,
  range: { start: number; end: number },
): AsyncGenerator<Buffer> {
  const size = image.chunk_bytes;
  for (let seq = Math.floor(range.start / size); seq * size <= range.end; seq += 1) {
    const from = Math.max(range.start, seq * size) - seq * size;
    const length = Math.min(range.end, seq * size + size - 1) - seq * size - from + 1;
    const { rows } = await inTenant((tx) =>
      tx.query<{ data: Buffer }>(
        `SELECT substring(data FROM $4 FOR $5) AS data FROM firmware_chunks
         WHERE tenant_id = $1 AND image_id = $2 AND seq = $3`,
        [tx.tenantId, image.image_id, seq, from + 1, length],
      ),
    );
    if (!rows[0]) throw new Error(`firmware image ${image.image_id} lost chunk ${seq} while being read`);
    yield rows[0].data;
  }
}
