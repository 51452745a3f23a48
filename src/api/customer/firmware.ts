// Firmware images (issue 30): a customer admin uploads an image, streamed as the request body, as one
// version for one device model (or every model), and deletes it; every customer role lists them. Devices
// download them through signed links (src/ingest/firmware-download.ts) that firmware_update commands carry.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import type { App } from '../../http/server.js';
import { Obj } from '../../lib/schema.js';
import { spoolToFile } from '../../lib/spool.js';
import * as firmware from '../../model/firmware.js';
import { FirmwareImageView } from '../../model/views.js';
import { displayName } from '../auth.js';
import { customerAdminOnly, principalOf, type InTenant } from '../guard.js';
import { noteAudit } from '../audit-note.js';

const tags = ['customer/firmware'];
const ImageParams = Type.Object({ image_id: Type.String({ format: 'uuid' }) });
const UploadQuery = Type.Object({
  version: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._+~-]+$', description: 'e.g. 2.4.1' }),
  model: Type.Optional(
    Type.String({ minLength: 1, maxLength: 100, description: 'the device model it is for; omitted: every model' }),
  ),
  filename: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
});

/** "firmware 2.4.1 for P-100", for the audit log. */
const imageName = (image: firmware.FirmwareImage) =>
  `firmware ${image.version}${image.model === null ? '' : ` for ${image.model}`}`;

/** Rethrows `error`; when it is a body over the limit (413), the connection closes, so the client stops sending. */
function refuseTooLarge(request: FastifyRequest, reply: FastifyReply, error: unknown): never {
  if (error instanceof AppError && error.code === 'TOO_LARGE' && request.raw.httpVersionMajor < 2)
    reply.header('connection', 'close');
  throw error;
}

export function registerFirmwareRoutes(app: App, deps: { inTenant: InTenant; maxBytes: number }): void {
  const { inTenant, maxBytes } = deps;
  // The image is the body, read as a stream by the route: never whole in memory.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  app.get(
    '/customer/firmware',
    {
      schema: {
        tags,
        summary: "The tenant's firmware images, newest first",
        response: { 200: Obj({ tenant_id: Type.String(), images: Type.Array(FirmwareImageView) }) },
      },
    },
    (request) =>
      inTenant(request, async (tx) => ({
        tenant_id: tx.tenantId,
        images: await firmware.listImages(tx, { tenantId: tx.tenantId }),
      })),
  );

  app.get(
    '/customer/firmware/:image_id',
    { schema: { tags, summary: 'One firmware image', params: ImageParams, response: { 200: FirmwareImageView } } },
    async (request) => {
      const image = await inTenant(request, (tx) => firmware.findImage(tx, request.params.image_id));
      if (!image) throw new AppError('NOT_FOUND', 'Firmware image not found');
      return firmware.imageView(image);
    },
  );

  app.post(
    '/customer/firmware',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary:
          'Upload a firmware image as the body (Content-Type: application/octet-stream), at most FIRMWARE_MAX_BYTES',
        querystring: UploadQuery,
        // No type: the body is a stream, which `type: string, format: binary` would refuse.
        body: { content: { 'application/octet-stream': { schema: { description: 'the image, as raw bytes' } } } },
        response: { 201: FirmwareImageView },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!(body instanceof Readable)) {
        throw new AppError(
          'INVALID_REQUEST',
          'Send the image as the request body with Content-Type: application/octet-stream',
        );
      }
      if (Number(request.headers['content-length']) > maxBytes)
        refuseTooLarge(request, reply, firmware.imageTooLarge(maxBytes));
      // Left open when it ends early, so the 413 can still be read by the client.
      const spooled = await spoolToFile(body.iterator({ destroyOnReturn: false }), maxBytes, () =>
        firmware.imageTooLarge(maxBytes),
      ).catch((error: unknown) => refuseTooLarge(request, reply, error));
      let created: firmware.FirmwareImage;
      try {
        if (spooled.bytes === 0) throw new AppError('INVALID_REQUEST', 'The image is empty');
        const { version, model, filename } = request.query;
        created = await inTenant(request, (tx) =>
          firmware.storeImage(
            tx,
            {
              version,
              model: model ?? null,
              filename: filename ?? null,
              created_by: displayName(principalOf(request)),
            },
            createReadStream(spooled.path, { highWaterMark: firmware.CHUNK_BYTES }),
            { maxBytes },
          ),
        );
      } finally {
        await spooled.remove();
      }
      noteAudit(request, {
        resourceId: created.image_id,
        summary: `uploaded ${imageName(created)} (${created.size_bytes} bytes)`,
      });
      return reply.status(201).send(created);
    },
  );

  app.delete(
    '/customer/firmware/:image_id',
    {
      preHandler: customerAdminOnly,
      schema: {
        tags,
        summary: 'Delete a firmware image; links to it stop working',
        params: ImageParams,
        response: { 200: FirmwareImageView },
      },
    },
    async (request) => {
      const deleted = await inTenant(request, (tx) => firmware.deleteImage(tx, request.params.image_id));
      if (!deleted) throw new AppError('NOT_FOUND', 'Firmware image not found');
      noteAudit(request, { summary: `deleted ${imageName(deleted)}` });
      return deleted;
    },
  );
}
