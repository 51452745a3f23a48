import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keysMatch, newActivationCode, newProvisionToken, sha256Hex } from '../../src/lib/credentials.js';

describe('device credentials', () => {
  it('provision tokens are tok- plus 32 URL-safe characters, never repeated', () => {
    const tokens = new Set(Array.from({ length: 200 }, newProvisionToken));
    expect(tokens.size).toBe(200);
    for (const token of tokens) expect(token).toMatch(/^tok-[A-Za-z0-9_-]{32}$/);
  });

  it('activation codes are 24 URL-safe characters', () => {
    expect(newActivationCode()).toMatch(/^[A-Za-z0-9_-]{24}$/);
  });

  it('hashes as lowercase SHA-256 hex of the UTF-8 string, like the original', () => {
    expect(sha256Hex('tok-dev-0001')).toBe(createHash('sha256').update('tok-dev-0001').digest('hex'));
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('compares admin keys exactly', () => {
    expect(keysMatch('secret-admin-key-1', 'secret-admin-key-1')).toBe(true);
    expect(keysMatch('secret-admin-key-2', 'secret-admin-key-1')).toBe(false);
    expect(keysMatch('secret', 'secret-admin-key-1')).toBe(false);
    expect(keysMatch(undefined, 'secret-admin-key-1')).toBe(false);
    expect(keysMatch('', 'secret-admin-key-1')).toBe(false);
  });
});
