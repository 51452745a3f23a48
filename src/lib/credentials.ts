// Device credentials (docs/wire-contract.md#device-credentials): provision tokens are `tok-` + 32 URL-safe
// characters, activation codes 24 URL-safe characters; only their SHA-256 (lowercase hex) is stored.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** `tok-` + 32 URL-safe base64 characters (192 random bits). */
export function newProvisionToken(): string {
  return `tok-${randomBytes(24).toString('base64url')}`;
}

/** 24 URL-safe base64 characters (144 random bits). */
export function newActivationCode(): string {
  return randomBytes(18).toString('base64url');
}

/** Constant-time comparison that does not leak the expected key's length either. */
export function keysMatch(provided: string | undefined, expected: string): boolean {
  if (provided === undefined) return false;
  return timingSafeEqual(
    createHash('sha256').update(provided).digest(),
    createHash('sha256').update(expected).digest(),
  );
}
