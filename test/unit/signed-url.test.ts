// Signed firmware download links and the Range requests devices resume them with: a link works for its
// image, tenant and device until it expires, and any change to it is refused; checking never throws.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteRange } from '../../src/lib/http-range.js';
import { createSecretBox } from '../../src/lib/secrets.js';
import { firmwareDownloadPath, firmwareUrlKey, signFirmwareUrl, verifyFirmwareUrl } from '../../src/lib/signed-url.js';

const key = randomBytes(32);
const now = new Date('2026-12-01T10:00:00Z');
const grant = { imageId: '6f1c2a9e-0d4b-4c55-9a71-2b1f0f6e8c13', tenantId: 'acme', deviceId: 'pump-7' };

/** A link's fields as the download route gives them to verifyFirmwareUrl. */
function fieldsOf(pathAndQuery: string): Record<string, string> {
  const url = new URL(pathAndQuery, 'http://pulse.test');
  return {
    ...Object.fromEntries(url.searchParams),
    image_id: decodeURIComponent(url.pathname.split('/').pop()!),
  };
}

describe('signed firmware links', () => {
  const signed = fieldsOf(signFirmwareUrl({ ...grant, expiresAt: new Date(now.getTime() + 3_600_000) }, key));

  it('grant their image, tenant and device until they expire', () => {
    expect(verifyFirmwareUrl(signed, key, now)).toEqual({ ok: true, ...grant });
    expect(verifyFirmwareUrl(signed, key, new Date(now.getTime() + 3_599_000)).ok).toBe(true);
    expect(verifyFirmwareUrl(signed, key, new Date(now.getTime() + 3_600_000))).toEqual({
      ok: false,
      reason: 'The download link has expired; ask for a new firmware update',
    });
  });

  it('are refused under another key, and whole-link fields must each be there once', () => {
    expect(verifyFirmwareUrl(signed, randomBytes(32), now).ok).toBe(false);
    const { sig: _, ...unsigned } = signed;
    expect(verifyFirmwareUrl(unsigned, key, now)).toMatchObject({ ok: false, reason: /incomplete/ });
    expect(verifyFirmwareUrl({ ...signed, device: ['pump-7', 'pump-8'] }, key, now).ok).toBe(false);
  });

  it('come as a path under /ingest/v1/firmware/ with the ids encoded, valid for the TTL', () => {
    const secrets = createSecretBox(key);
    const path = firmwareDownloadPath(secrets, { ...grant, deviceId: 'a b/&c' }, now, 600);
    expect(path).toMatch(
      /^\/ingest\/v1\/firmware\/6f1c2a9e-0d4b-4c55-9a71-2b1f0f6e8c13\?tenant=acme&device=a\+b%2F%26c&/,
    );
    const fields = fieldsOf(path);
    expect(fields.expires).toBe(String(now.getTime() / 1000 + 600));
    expect(verifyFirmwareUrl(fields, firmwareUrlKey(secrets), now)).toEqual({ ok: true, ...grant, deviceId: 'a b/&c' });
    // Another purpose's key from the same secret signs nothing here.
    expect(verifyFirmwareUrl(fields, secrets.deriveKey('something else'), now).ok).toBe(false);
  });

  it('are refused when any field or the signature is changed', () => {
    const id = fc.string({ minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(
        fc.record({ imageId: fc.uuid(), tenantId: id, deviceId: id }),
        fc.constantFrom('image_id', 'tenant', 'device', 'expires', 'sig'),
        fc.string({ minLength: 1, maxLength: 43 }),
        fc.nat({ max: 42 }),
        (anyGrant, field, replacement, at) => {
          const fields = fieldsOf(signFirmwareUrl({ ...anyGrant, expiresAt: new Date(now.getTime() + 60_000) }, key));
          expect(verifyFirmwareUrl(fields, key, now)).toEqual({ ok: true, ...anyGrant });
          const original = fields[field]!;
          // Replace one character (the signature's keeps its alphabet), or the whole value.
          const changed =
            field === 'sig'
              ? original.slice(0, at) + (original[at] === 'A' ? 'B' : 'A') + original.slice(at + 1)
              : replacement === original
                ? `${original}x`
                : replacement;
          expect(verifyFirmwareUrl({ ...fields, [field]: changed }, key, now).ok).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws, whatever a request holds', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('image_id', 'tenant', 'device', 'expires', 'sig', 'other'), fc.anything()),
        (fields) => {
          expect(verifyFirmwareUrl(fields, key, now).ok).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(
        fc.record({
          image_id: fc.string(),
          tenant: fc.string(),
          device: fc.string(),
          expires: fc.oneof(fc.string(), fc.stringMatching(/^[0-9]{1,14}$/)),
          sig: fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)),
        }),
        (fields) => {
          expect(verifyFirmwareUrl(fields, key, now).ok).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('byteRange', () => {
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-99', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-199', { kind: 'partial', start: 100, end: 199 }],
    ['bytes=900-5000', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=500-', { kind: 'partial', start: 500, end: 999 }],
    ['bytes=-100', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['Bytes=0-0', { kind: 'partial', start: 0, end: 0 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=1000-2000', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    // Not understood: the whole body.
    ['bytes=5-1', { kind: 'full' }],
    ['bytes=0-1,5-6', { kind: 'full' }],
    ['items=0-1', { kind: 'full' }],
    ['bytes=-', { kind: 'full' }],
    ['bytes=a-b', { kind: 'full' }],
  ] as const)('%s of 1000 bytes', (header, answer) => {
    expect(byteRange(header, 1000)).toEqual(answer);
  });

  it('finds nothing to send of an empty body', () => {
    expect(byteRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(byteRange('bytes=-1', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(byteRange(undefined, 0)).toEqual({ kind: 'full' });
  });
});
