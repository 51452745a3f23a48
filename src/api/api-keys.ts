// API keys as bearer credentials (ADR 031): `Authorization: Bearer pulse_…` on /api/v2 and /customer. A
// key is found by its secret's SHA-256 and remembered for `recheckMs`, so a revocation through any process
// is refused everywhere within seconds, at a query per key every few seconds rather than per request; its
// expiry and its allowed networks are checked on every request. Its uses are counted in memory and written
// at most once a minute per key (last use, source address, count).
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { inNetworks } from '../lib/networks.js';
import type { KeyForRequests } from '../model/api-keys.js';
import { USER_RECHECK_MS, type Principal } from './auth.js';

export const API_KEY_PREFIX = 'pulse_';
/** How many characters of a secret lists show: the prefix and 8 more. */
const SHOWN_CHARACTERS = API_KEY_PREFIX.length + 8;
const USE_WRITE_INTERVAL_MS = 60_000;

export const isApiKey = (token: string) => token.startsWith(API_KEY_PREFIX);

export const secretSha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** A new secret (256 random bits), what lists show of it, and what is stored. */
export function newApiKeySecret(): { secret: string; prefix: string; sha256: string } {
  const secret = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { secret, prefix: secret.slice(0, SHOWN_CHARACTERS), sha256: secretSha256(secret) };
}

export interface KeyUse {
  keyId: string;
  uses: number;
  at: Date;
  ip: string;
}

export interface ApiKeyVerifier {
  /** The principal a key stands for, used from `sourceAddress`; throws the 401/403 it is refused with. */
  verify(secret: string, sourceAddress: string): Promise<Principal>;
  /** Forgets every key looked up (a revocation in this process is then refused at once). */
  forget(): void;
  /** Writes the uses not written yet. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export function apiKeyVerifier(deps: {
  find: (sha256: string) => Promise<KeyForRequests | undefined>;
  recordUses: (uses: KeyUse[]) => Promise<void>;
  log: Logger;
  recheckMs?: number;
}): ApiKeyVerifier {
  const recheckMs = deps.recheckMs ?? USER_RECHECK_MS;
  const looked = new Map<string, { key: KeyForRequests | undefined; at: number }>();
  const unwritten = new Map<string, KeyUse>();
  const writtenAt = new Map<string, number>();

  const write = (uses: KeyUse[]) =>
    deps.recordUses(uses).catch((error: unknown) => deps.log.warn({ err: error }, 'could not record API key uses'));
  const flush = async () => {
    const uses = [...unwritten.values()];
    unwritten.clear();
    for (const use of uses) writtenAt.set(use.keyId, Date.now());
    await write(uses);
  };
  const timer = setInterval(() => void flush(), USE_WRITE_INTERVAL_MS);
  timer.unref();

  function countUse(keyId: string, ip: string, now: number) {
    const use = unwritten.get(keyId) ?? { keyId, uses: 0, at: new Date(now), ip };
    use.uses += 1;
    use.at = new Date(now);
    use.ip = ip;
    unwritten.set(keyId, use);
    // A key's first use in a minute is written at once, so a list shows it; the rest wait for the timer.
    if (now - (writtenAt.get(keyId) ?? 0) >= USE_WRITE_INTERVAL_MS) {
      unwritten.delete(keyId);
      writtenAt.set(keyId, now);
      void write([use]);
    }
  }

  return {
    async verify(secret, sourceAddress) {
      const now = Date.now();
      const sha256 = secretSha256(secret);
      let known = looked.get(sha256);
      if (!known || now - known.at > recheckMs) {
        if (looked.size >= 10_000) looked.clear(); // bounded: at worst, every key is looked up again
        known = { key: await deps.find(sha256), at: now };
        looked.set(sha256, known);
      }
      const { key } = known;
      if (!key) throw new AppError('UNAUTHORIZED', 'Invalid API key');
      if (key.revoked) throw new AppError('UNAUTHORIZED', `API key "${key.name}" was revoked`);
      if (key.expires_at && key.expires_at.getTime() <= now) {
        throw new AppError('UNAUTHORIZED', `API key "${key.name}" expired at ${key.expires_at.toISOString()}`);
      }
      if (!key.tenant_active) throw new AppError('UNAUTHORIZED', `The tenant of API key "${key.name}" is not active`);
      if (key.allowed_cidrs.length > 0 && !inNetworks(sourceAddress, key.allowed_cidrs)) {
        throw new AppError(
          'FORBIDDEN',
          `API key "${key.name}" may not be used from ${sourceAddress}: not in its allowed networks`,
        );
      }
      countUse(key.key_id, sourceAddress, now);
      return {
        sub: `api-key:${key.key_id}`,
        role: key.role,
        tenantId: key.tenant_id,
        email: undefined,
        username: key.name,
        exp: key.expires_at ? Math.floor(key.expires_at.getTime() / 1000) : Number.MAX_SAFE_INTEGER,
        issuedAt: undefined,
        clientId: 'api-key',
        apiKey: { id: key.key_id, name: key.name },
      };
    },
    forget: () => looked.clear(),
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}
