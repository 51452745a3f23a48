// The provisioning admin key: ADMIN_KEY when given (required in PROD); otherwise, in DEV, a random key
// generated once and kept in PULSE_DATA_DIR/admin-key so it survives restarts. Never a fixed default.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';

export interface AdminKey {
  key: string;
  /** Set when the key came from (or was written to) the data dir. */
  file?: string;
}

export function resolveAdminKey(config: Pick<Config, 'ADMIN_KEY' | 'MODE' | 'PULSE_DATA_DIR'>): AdminKey {
  if (config.ADMIN_KEY) return { key: config.ADMIN_KEY };
  if (config.MODE === 'PROD') throw new Error('ADMIN_KEY is required when MODE=PROD');
  const file = path.resolve(config.PULSE_DATA_DIR, 'admin-key');
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= 16) return { key: stored, file };
  }
  const key = randomBytes(24).toString('base64url');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, file };
}
