// Password hashes for the built-in issuer's users: scrypt from node:crypto, self-describing so the cost
// can be raised later without invalidating stored hashes: scrypt$<N>$<r>$<p>$<salt>$<hash> (base64url).
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';

const COST = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;
export const MIN_PASSWORD_LENGTH = 8;
/** Characters (code points), as the API documents; a schema counting UTF-16 units allows twice as many. */
export const MAX_PASSWORD_LENGTH = 256;
/** The rules, as the API documents them. */
export const PASSWORD_RULES = `${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters, not the username, not a common password`;

// Length over composition rules, plus a refusal of breached and common passwords and of the service's own
// name (NIST SP 800-63B §5.1.1.2); lockout after repeated failures is the issuer's (LOGIN_FAILURE_LIMIT).
// zxcvbn's list: some 49,000 passwords most often found in breaches, built once on first use.
let breached: Set<string> | undefined;
const isBreached = (candidate: string) =>
  (breached ??= new Set(dictionary['passwords-common'].map((word) => word.toLowerCase()))).has(candidate);
/** Words of this service: its name and the published demo password are the first an attacker tries. */
const SERVICE_WORDS = /^(?:pulse|demo)+$/u;

/** Whether `lower` (a lowercased password) is one attackers try early. */
function isGuessable(lower: string): boolean {
  const characters = [...lower];
  if (new Set(characters).size <= 2) return true;
  const steps = new Set(characters.slice(1).map((c, i) => c.codePointAt(0)! - characters[i]!.codePointAt(0)!));
  if (steps.size === 1 && (steps.has(1) || steps.has(-1))) return true; // abcdefgh, 87654321
  // Digits and symbols around a word do not make it new: Welcome2024! is "welcome", qwerty12 is "qwerty".
  const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
  return (
    isBreached(lower) || (core.length >= 4 && isBreached(core)) || SERVICE_WORDS.test(core.replace(/[^\p{L}]/gu, ''))
  );
}

/**
 * What is wrong with a new password for `username`, or undefined when it may be used. `allowGuessable`
 * is for seeding the demo's users, whose password is published anyway; nothing a person sets uses it.
 */
export function passwordProblem(
  password: string,
  username: string,
  options: { allowGuessable?: boolean } = {},
): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  // A one- or two-letter username would forbid half the alphabet.
  if (username.length >= 3 && lower.includes(username.toLowerCase())) return 'password must not contain the username';
  if (!options.allowGuessable && isGuessable(lower))
    return 'password is too easy to guess (a common or breached password); a few unrelated words make a good one';
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
