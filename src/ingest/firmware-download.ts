// Firmware downloads (issue 30): a device fetches an image with the signed link its firmware_update command
// carried. No token: the link is the credential, bound to the image, the tenant and the device
// (src/lib/signed-url.ts), and it works only while the device is ACTIVE in the registry. Range requests let
// a device resume. Served where HTTP ingest is (the proxy sends /ingest/* to ingest instances), streamed a
// chunk at a time, each read in a short transaction of the pipeline's role; on PGlite, whose one connection
// ingest's writes share, one chunk query at a time across downloads, each after a turn of the event loop.
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { narrow, type Database } from '../db/database.js';
import { AppError } from '../errors.js';
import { Problem, type App } from '../http/server.js';
import { byteRange } from '../lib/http-range.js';
import type { SecretBox } from '../lib/secrets.js';
import { Semaphore } from '../lib/semaphore.js';
import { FIRMWARE_DOWNLOAD_PATH, firmwareUrlKey, verifyFirmwareUrl } from '../lib/signed-url.js';
import { registryEntries } from '../model/device-registry.js';
import { findImage, readImageRange, type InImageTenant } from '../model/firmware.js';

const Bytes = (description: string) => ({
  description,
  content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) } },
});
// Optional, so a link missing a field is refused like any bad link (403), not as a malformed request.
const LinkQuery = Type.Object({
  tenant: Type.Optional(Type.String()),
  device: Type.Optional(Type.String()),
  expires: Type.Optional(Type.String({ description: 'Unix seconds' })),
  sig: Type.Optional(Type.String({ description: 'HMAC-SHA256, base64url' })),
});

export function registerFirmwareDownload(app: App, deps: { db: Database; secrets: SecretBox }): void {
  const { db } = deps;
  const key = firmwareUrlKey(deps.secrets);
  const turns = db.engine === 'pglite' ? new Semaphore(1) : undefined;
  const inImageTenant =
    (tenantId: string): InImageTenant =>
    (fn) => {
      const read = () => db.withService((tx) => fn(narrow(tx, tenantId)));
      return turns
        ? turns.run(async () => {
            await new Promise<void>((resolve) => setImmediate(resolve));
            return read();
          })
        : read();
    };

  app.get(
    `${FIRMWARE_DOWNLOAD_PATH}:image_id`,
    {
      schema: {
        tags: ['ingest'],
        summary:
          'A firmware image, by the signed link a firmware_update command carries (no token); Range requests resume',
        params: Type.Object({ image_id: Type.String() }),
        querystring: LinkQuery,
        response: {
          200: Bytes('the image; ETag and X-Checksum-Sha256 carry its SHA-256'),
          206: Bytes('the bytes the Range asks for'),
          416: Problem,
        },
      },
    },
    async (request, reply) => {
      const link = verifyFirmwareUrl({ ...request.query, image_id: request.params.image_id }, key, new Date());
      if (!link.ok) throw new AppError('FORBIDDEN', link.reason);
      const found = await db.withService(async (tx) => {
        const [device] = await registryEntries(tx, [link]);
        if (device?.status !== 'ACTIVE') return 'inactive' as const;
        return findImage(narrow(tx, link.tenantId), link.imageId);
      });
      if (found === 'inactive') throw new AppError('FORBIDDEN', 'The device of this download link is not active');
      if (!found) throw new AppError('NOT_FOUND', 'Firmware image not found; it may have been deleted');

      const size = found.size_bytes;
      reply
        .header('accept-ranges', 'bytes')
        .header('etag', `"${found.sha256}"`)
        .header('x-checksum-sha256', found.sha256)
        .header('cache-control', 'private, no-store');
      const range = byteRange(request.headers.range, size);
      if (range.kind === 'unsatisfiable') {
        return reply
          .status(416)
          .header('content-range', `bytes */${size}`)
          .send({ detail: `The range is outside the image's ${size} bytes` });
      }
      const { start, end } = range.kind === 'partial' ? range : { start: 0, end: size - 1 };
      if (range.kind === 'partial') reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`);
      // One chunk read ahead, not Readable.from's 16: memory per download stays one chunk or two. HEAD: the
      // headers only (Fastify would read a body to the end and drop it).
      const body = Readable.from(
        request.method === 'HEAD' ? [] : readImageRange(inImageTenant(link.tenantId), found, { start, end }),
        { highWaterMark: 1 },
      );
      body.once('error', (error) =>
        request.log.warn(
          { err: error, tenant_id: link.tenantId, device_id: link.deviceId, image_id: link.imageId },
          'firmware download ended midway',
        ),
      );
      // The schema documents the bytes; the type provider knows only JSON answers.
      return (reply as FastifyReply)
        .type('application/octet-stream')
        .header('content-length', String(end - start + 1))
        .send(body);
    },
  );
}
