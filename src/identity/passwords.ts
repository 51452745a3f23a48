// Password hashes for the built-in issuer's users: scrypt from node:crypto, self-describing so the cost
// can be raised later without invalidating stored hashes: scrypt$<N>$<r>$<p>$<salt>$<hash> (base64url).
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const COST = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;
export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 256;
/** The rules, as the API documents them. */
export const PASSWORD_RULES = `${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters, not the username, not a common password`;

// Length over composition rules, plus a refusal of the passwords tried first (NIST SP 800-63B §5.1.1.2);
// lockout after repeated failures is the issuer's (LOGIN_FAILURE_LIMIT).
const COMMON = new Set([
  'password',
  'password1',
  'password123',
  'passw0rd',
  '12345678',
  '123456789',
  '1234567890',
  '87654321',
  'qwertyuiop',
  'qwerty123',
  'iloveyou',
  'admin123',
  'administrator',
  'letmein1',
  'welcome1',
  'changeme',
  'abcdefgh',
  'abc12345',
  'football',
  'baseball',
  'sunshine',
  'princess',
  'trustno1',
  '11111111',
]);

/** What is wrong with a new password for `username`, or undefined when it may be used. */
export function passwordProblem(password: string, username: string): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  // A one- or two-letter username would forbid half the alphabet.
  if (username.length >= 3 && lower.includes(username.toLowerCase())) return 'password must not contain the username';
  if (COMMON.has(lower) || new Set(lower).size <= 2)
    return 'password is too easy to guess; a few unrelated words make a good one';
  return undefined;
}

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** False for a wrong password and for a hash this code cannot read; never throws on bad input. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  try {
    const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
    return key.length === expected.length && timingSafeEqual(key, expected);
  } catch {
    return false;
  }
}
