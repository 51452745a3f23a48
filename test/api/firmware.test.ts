// Firmware images (issue 30): customer admins upload them streamed, list, get and delete them in their own
// tenant (application and row-level security); operators list every tenant's. Devices download them with
// signed links, whole or resumed with Range, while the link is intact and unexpired and the device active.
// On both engines.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { firmwareDownloadPath } from '../../src/lib/signed-url.js';
import { bearer, callerFor, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { seedDevice } from '../helpers/seed.js';

const MiB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The bytes as a request body of unknown length (chunked), 64 KiB at a time. */
function streamOf(bytes: Buffer): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 64 * 1024));
      offset += 64 * 1024;
    },
  });
}

describe.each<Engine>(['pglite', 'postgres'])('firmware images on %s', (engine) => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);
  const image = randomBytes(5 * MiB);
  let imageId: string;

  const upload = async (who: string, query: string, body: Buffer, streamed = true) => {
    const response = await fetch(`${pulse.base}/customer/firmware?${query}`, {
      method: 'POST',
      headers: { ...bearer(tokens[who]!), 'content-type': 'application/octet-stream' },
      body: streamed ? streamOf(body) : body,
      ...(streamed && { duplex: 'half' }),
    } as RequestInit);
    return { status: response.status, body: (await response.json()) as any, headers: response.headers };
  };
  const download = async (path: string, range?: string) => {
    const response = await fetch(`${pulse.base}${path}`, { headers: range ? { range } : {} });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, bytes };
  };
  const linkFor = (id: string, deviceId: string, now = new Date()) =>
    firmwareDownloadPath(pulse.deps.secrets, { imageId: id, tenantId: 'fw-a', deviceId }, now, 3600);
  const stored = async (tenantId: string) =>
    (
      await pulse.db.withService((tx) =>
        tx.query<{ images: number; chunks: number }>(
          `SELECT (SELECT count(*)::int FROM firmware_images WHERE tenant_id = $1) AS images,
                  (SELECT count(*)::int FROM firmware_chunks WHERE tenant_id = $1) AS chunks`,
          [tenantId],
        ),
      )
    ).rows[0]!;

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000', FIRMWARE_MAX_BYTES: String(6 * MiB) }, [
      'api',
      'provision',
      'ingest',
    ]);
    await seedDevice(pulse.db, 'fw-a', 'dev-1');
    await seedDevice(pulse.db, 'fw-a', 'dev-2');
    await seedDevice(pulse.db, 'fw-b', 'dev-b');
    tokens.adminA = await tokenFor(pulse, { username: 'fw-admin-a', role: 'customer_admin', tenantId: 'fw-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'fw-viewer-a', role: 'customer_viewer', tenantId: 'fw-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'fw-admin-b', role: 'customer_admin', tenantId: 'fw-b' });
    tokens.operator = await tokenFor(pulse, { username: 'fw-operator', role: 'operator' });
  }, 90_000);
  afterAll(() => pulse?.close());

  it('stores a streamed image with its size and SHA-256, in 256 KiB chunks, and lists and gets it', async () => {
    const created = await upload('adminA', 'version=2.4.1&model=P-100&filename=p100-2.4.1.bin', image);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      image_id: expect.any(String),
      tenant_id: 'fw-a',
      version: '2.4.1',
      model: 'P-100',
      filename: 'p100-2.4.1.bin',
      size_bytes: 5 * MiB,
      sha256: sha256(image),
      created_by: 'fw-admin-a',
      created_at: expect.any(String),
    });
    imageId = created.body.image_id;
    expect(await stored('fw-a')).toEqual({ images: 1, chunks: 20 });

    const listed = await call('viewerA', '/customer/firmware');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ tenant_id: 'fw-a', images: [created.body] });
    expect((await call('viewerA', `/customer/firmware/${imageId}`)).body).toEqual(created.body);
    const audit = await call('adminA', '/customer/audit');
    expect(audit.body.entries[0]).toMatchObject({
      action: 'POST /customer/firmware',
      resource_id: imageId,
      summary: 'uploaded firmware 2.4.1 for P-100 (5242880 bytes)',
      fields: null,
    });
  });

  it('refuses a version twice for the same model (409), also for every model, and takes it for another', async () => {
    const small = randomBytes(1000);
    const again = await upload('adminA', 'version=2.4.1&model=P-100', small, false);
    expect(again.status).toBe(409);
    expect(again.body.detail).toBe(
      'Firmware 2.4.1 for model P-100 exists already; delete it first or upload it as another version',
    );
    expect((await upload('adminA', 'version=2.4.1&model=P-200', small, false)).status).toBe(201);
    expect((await upload('adminA', 'version=2.4.1', small, false)).status).toBe(201);
    const everyModel = await upload('adminA', 'version=2.4.1', small, false);
    expect(everyModel.status).toBe(409);
    expect(everyModel.body.detail).toMatch(/^Firmware 2.4.1 for every model exists already/);
    expect(await stored('fw-a')).toEqual({ images: 3, chunks: 22 });
  });

  it('refuses an image over FIRMWARE_MAX_BYTES (413), streamed or announced, and keeps nothing of it', async () => {
    const before = await stored('fw-a');
    const tooLarge = randomBytes(6 * MiB + 1);
    for (const streamed of [true, false]) {
      const refused = await upload('adminA', 'version=9.9.9', tooLarge, streamed);
      expect(refused.status).toBe(413);
      expect(refused.body.detail).toBe(
        'The image is larger than 6291456 bytes, the most FIRMWARE_MAX_BYTES allows; nothing was stored. Upload a smaller image or raise FIRMWARE_MAX_BYTES',
      );
    }
    expect(await stored('fw-a')).toEqual(before);
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith('pulse-upload-'))).toEqual([]);
    // The limit itself fits.
    const atLimit = await upload('adminA', 'version=9.9.9', randomBytes(6 * MiB));
    expect(atLimit.status).toBe(201);
    expect((await call('adminA', `/customer/firmware/${atLimit.body.image_id}`, 'DELETE')).status).toBe(200);
  });

  it('refuses an empty image and a body that is not application/octet-stream', async () => {
    expect((await upload('adminA', 'version=0.0.1', Buffer.alloc(0), false)).body.detail).toBe('The image is empty');
    const json = await call('adminA', '/customer/firmware?version=0.0.1', 'POST', { image: 'x' });
    expect(json.status).toBe(400);
    expect(json.body.detail).toMatch(/Content-Type: application\/octet-stream/);
  });

  it('lets a viewer neither upload nor delete', async () => {
    expect((await upload('viewerA', 'version=3.0.0', randomBytes(100), false)).status).toBe(403);
    expect((await call('viewerA', `/customer/firmware/${imageId}`, 'DELETE')).status).toBe(403);
    expect((await call('viewerA', `/customer/firmware/${imageId}`)).status).toBe(200);
  });

  it("keeps a tenant's images from another: by the API and by row-level security alone", async () => {
    expect((await call('adminB', '/customer/firmware')).body).toEqual({ tenant_id: 'fw-b', images: [] });
    expect((await call('adminB', `/customer/firmware/${imageId}`)).status).toBe(404);
    expect((await call('adminB', `/customer/firmware/${imageId}`, 'DELETE')).status).toBe(404);
    const underRls = await pulse.db.withTenant('fw-b', async (tx) => ({
      images: (await tx.query(`SELECT image_id FROM firmware_images WHERE image_id = $1`, [imageId])).rows,
      chunks: (await tx.query(`SELECT seq FROM firmware_chunks WHERE image_id = $1`, [imageId])).rows,
      deleted: (await tx.query(`DELETE FROM firmware_images WHERE image_id = $1`, [imageId])).rowCount,
    }));
    expect(underRls).toEqual({ images: [], chunks: [], deleted: 0 });
    await expect(
      pulse.db.withTenant('fw-b', (tx) =>
        tx.query(`INSERT INTO firmware_chunks (tenant_id, image_id, seq, data) VALUES ('fw-a', $1, 99, '\\x00')`, [
          imageId,
        ]),
      ),
    ).rejects.toThrow(/row-level security/);
    expect((await call('viewerA', `/customer/firmware/${imageId}`)).status).toBe(200);

    const all = await call('operator', '/operator/firmware');
    expect(all.status).toBe(200);
    expect(all.body.images.map((i: { tenant_id: string }) => i.tenant_id)).toEqual(['fw-a', 'fw-a', 'fw-a']);
    expect((await call('operator', '/operator/firmware?tenant_filter=fw-b')).body.images).toEqual([]);
  });

  it('lets a device download its image whole, or resume it with Range, and the bytes hash to the image', async () => {
    const link = linkFor(imageId, 'dev-1');
    const whole = await download(link);
    expect(whole.status).toBe(200);
    expect(sha256(whole.bytes)).toBe(sha256(image));
    expect(Object.fromEntries(whole.headers)).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-length': String(5 * MiB),
      'accept-ranges': 'bytes',
      etag: `"${sha256(image)}"`,
      'x-checksum-sha256': sha256(image),
    });

    // Cut off mid-chunk, then resumed from there to the end.
    const first = await download(link, 'bytes=0-1999999');
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-1999999/${5 * MiB}`);
    expect(first.headers.get('content-length')).toBe('2000000');
    const rest = await download(link, 'bytes=2000000-');
    expect(rest.status).toBe(206);
    expect(rest.headers.get('content-range')).toBe(`bytes 2000000-${5 * MiB - 1}/${5 * MiB}`);
    expect(sha256(Buffer.concat([first.bytes, rest.bytes]))).toBe(sha256(image));
    expect((await download(link, 'bytes=-100')).bytes).toEqual(image.subarray(5 * MiB - 100));
    expect((await download(link, 'bytes=262143-262144')).bytes).toEqual(image.subarray(262143, 262145));

    const head = await fetch(`${pulse.base}${link}`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length'), head.headers.get('x-checksum-sha256')]).toEqual([
      200,
      String(5 * MiB),
      sha256(image),
    ]);

    const beyond = await download(link, `bytes=${5 * MiB}-`);
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${5 * MiB}`);
  });

  it("refuses expired, changed, another device's and another image's links (403), a deleted image's (404)", async () => {
    const refusal = async (path: string) => {
      const answer = await download(path);
      return { status: answer.status, detail: JSON.parse(answer.bytes.toString()).detail as string };
    };
    expect(await refusal(linkFor(imageId, 'dev-1', new Date(Date.now() - 3_601_000)))).toEqual({
      status: 403,
      detail: 'The download link has expired; ask for a new firmware update',
    });
    const link = linkFor(imageId, 'dev-1');
    const invalid = { status: 403, detail: 'The download link is not valid: its signature does not match' };
    expect(await refusal(link.replace('device=dev-1', 'device=dev-2'))).toEqual(invalid);
    expect(await refusal(link.replace('tenant=fw-a', 'tenant=fw-b'))).toEqual(invalid);
    expect(await refusal(link.replace(/expires=(\d+)/, (_, s: string) => `expires=${Number(s) + 1}`))).toEqual(invalid);
    expect(await refusal(link.replace(/sig=(.)/, (_, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`))).toEqual(invalid);
    expect((await refusal(link.replace(/&sig=.*/, ''))).status).toBe(403);

    const other = await upload('adminA', 'version=5.0.0', randomBytes(1000), false);
    expect(await refusal(link.replace(imageId, other.body.image_id))).toEqual(invalid);
    const otherLink = linkFor(other.body.image_id, 'dev-1');
    expect((await download(otherLink)).status).toBe(200);
    expect((await call('adminA', `/customer/firmware/${other.body.image_id}`, 'DELETE')).status).toBe(200);
    expect(await refusal(otherLink)).toEqual({
      status: 404,
      detail: 'Firmware image not found; it may have been deleted',
    });
  });

  it("stops a revoked device's link", async () => {
    const link = linkFor(imageId, 'dev-2');
    expect((await download(link, 'bytes=0-9')).status).toBe(206);
    const revoked = await call('adminA', '/customer/devices/revoke', 'POST', { device_ids: ['dev-2'] });
    expect(revoked.body.revoked).toEqual(['dev-2']);
    const refused = await download(link);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.bytes.toString()).detail).toBe('The device of this download link is not active');
  });

  it('deletes an image with its bytes', async () => {
    const deleted = await call('adminA', `/customer/firmware/${imageId}`, 'DELETE');
    expect(deleted.status).toBe(200);
    expect(deleted.body.image_id).toBe(imageId);
    expect((await call('adminA', `/customer/firmware/${imageId}`)).status).toBe(404);
    const left = await pulse.db.withService((tx) =>
      tx.query(`SELECT count(*)::int AS n FROM firmware_chunks WHERE image_id = $1`, [imageId]),
    );
    expect(left.rows[0]!.n).toBe(0);
  });
});
