// Signed firmware download links (issue 30): a device fetches an image with nothing but the link, which
// is the credential — bound to one image, tenant and device, and good until it expires. HMAC-SHA256 over
// every field with a key derived from SECRETS_KEY, so whichever process signs, every one verifies. Pure.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SecretBox } from './secrets.js';

export interface FirmwareGrant {
  imageId: string;
  tenantId: string;
  deviceId: string;
}

export type FirmwareUrlCheck = ({ ok: true } & FirmwareGrant) | { ok: false; reason: string };

/** Where devices download images; the image id follows. */
export const FIRMWARE_DOWNLOAD_PATH = '/ingest/v1/firmware/';
const LABEL = 'pulse firmware download link v1';
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
const SECONDS = /^[0-9]{1,12}$/;

/** The key links are signed with, derived from SECRETS_KEY for this purpose alone. */
export const firmwareUrlKey = (secrets: SecretBox): Buffer => secrets.deriveKey(LABEL);

/** JSON of the fields: no choice of ids can make two grants read the same. */
const mac = (key: Buffer, grant: FirmwareGrant, expires: string) =>
  createHmac('sha256', key)
    .update(JSON.stringify([LABEL, grant.imageId, grant.tenantId, grant.deviceId, expires]))
    .digest();

/** The link's path and query: /ingest/v1/firmware/<image>?tenant=…&device=…&expires=<unix s>&sig=… */
export function signFirmwareUrl(grant: FirmwareGrant & { expiresAt: Date }, key: Buffer): string {
  const expires = String(Math.floor(grant.expiresAt.getTime() / 1000));
  const query = new URLSearchParams({
    tenant: grant.tenantId,
    device: grant.deviceId,
    expires,
    sig: mac(key, grant, expires).toString('base64url'),
  });
  return `${FIRMWARE_DOWNLOAD_PATH}${encodeURIComponent(grant.imageId)}?${query}`;
}

/**
 * What a firmware_update command carries for `grant`: the link's path and query, valid `ttlSeconds` from
 * `now` (FIRMWARE_URL_TTL_SECONDS). The device puts it after the base URL it sends HTTP ingest to.
 */
export function firmwareDownloadPath(secrets: SecretBox, grant: FirmwareGrant, now: Date, ttlSeconds: number): string {
  return signFirmwareUrl({ ...grant, expiresAt: new Date(now.getTime() + ttlSeconds * 1000) }, firmwareUrlKey(secrets));
}

/**
 * Checks a link: `fields` are its image id (`image_id`, from the path) and its query. Never throws; says
 * why a link is refused.
 */
export function verifyFirmwareUrl(fields: Record<string, unknown>, key: Buffer, now: Date): FirmwareUrlCheck {
  const { image_id: imageId, tenant: tenantId, device: deviceId, expires, sig } = fields;
  if (
    typeof imageId !== 'string' ||
    typeof tenantId !== 'string' ||
    typeof deviceId !== 'string' ||
    typeof expires !== 'string' ||
    typeof sig !== 'string'
  ) {
    return { ok: false, reason: 'The download link is incomplete: it needs tenant, device, expires and sig once each' };
  }
  if (!SECONDS.test(expires) || !SIGNATURE.test(sig)) {
    return { ok: false, reason: 'The download link is malformed' };
  }
  const grant = { imageId, tenantId, deviceId };
  // Compared as text: decoding would let the unused low bits of the last character vary.
  const expected = mac(key, grant, expires).toString('base64url');
  if (!timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) {
    return { ok: false, reason: 'The download link is not valid: its signature does not match' };
  }
  if (now.getTime() >= Number(expires) * 1000) {
    return { ok: false, reason: 'The download link has expired; ask for a new firmware update' };
  }
  return { ok: true, ...grant };
}
