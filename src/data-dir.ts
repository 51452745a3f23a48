// What Pulse keeps in PULSE_DATA_DIR besides the embedded database: the generated DEV admin key, and
// while `pulse up` runs, the addresses it actually listens on (ports move when the defaults are taken),
// so that `pulse simulate` in another terminal finds it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';

export interface AdminKey {
  key: string;
  /** Set when the key came from (or was written to) the data dir. */
  file?: string;
}

/** ADMIN_KEY when given (required in PROD); otherwise a random key generated once per data dir. */
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

export interface RuntimeInfo {
  httpUrl: string;
  mqttUrl: string | undefined;
}

const runtimeFile = (dataDir: string) => path.resolve(dataDir, 'runtime.json');

export function writeRuntimeInfo(dataDir: string, info: RuntimeInfo): void {
  mkdirSync(path.resolve(dataDir), { recursive: true });
  writeFileSync(runtimeFile(dataDir), `${JSON.stringify(info)}\n`);
}

export function readRuntimeInfo(dataDir: string): RuntimeInfo | undefined {
  try {
    return JSON.parse(readFileSync(runtimeFile(dataDir), 'utf8')) as RuntimeInfo;
  } catch {
    return undefined;
  }
}

export function removeRuntimeInfo(dataDir: string): void {
  rmSync(runtimeFile(dataDir), { force: true });
}
