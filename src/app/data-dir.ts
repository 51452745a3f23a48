// What Pulse keeps in PULSE_DATA_DIR besides the embedded database: the generated DEV admin and secrets keys,
// the embedded broker's fallback port (so it stays the same across restarts), and while `pulse up` runs,
// the addresses it actually listens on (ports move when the defaults are taken), so that `pulse simulate`
// in another terminal finds it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { parseSecretsKey } from '../lib/secrets.js';

export interface AdminKey {
  key: string;
  /** Set when the key came from (or was written to) the data dir. */
  file?: string;
}

/** ADMIN_KEY when given (required in PROD); otherwise a random key generated once per data dir. */
export function resolveAdminKey(config: Pick<Config, 'ADMIN_KEY' | 'MODE' | 'PULSE_DATA_DIR'>): AdminKey {
  if (config.ADMIN_KEY) return { key: config.ADMIN_KEY };
  return generatedKey(
    config,
    'ADMIN_KEY',
    'admin-key',
    () => randomBytes(24).toString('base64url'),
    (k) => k.length >= 16,
  );
}

/** SECRETS_KEY when given (required in PROD); otherwise a random 32-byte key generated once per data dir. */
export function resolveSecretsKey(config: Pick<Config, 'SECRETS_KEY' | 'MODE' | 'PULSE_DATA_DIR'>): Buffer {
  const text =
    config.SECRETS_KEY ??
    generatedKey(
      config,
      'SECRETS_KEY',
      'secrets-key',
      () => randomBytes(32).toString('hex'),
      (k) => parseSecretsKey(k) !== undefined,
    ).key;
  return parseSecretsKey(text)!;
}

/** A key kept in the data dir (DEV only); `memory://` data dirs keep it for the life of the process. */
function generatedKey(
  config: Pick<Config, 'MODE' | 'PULSE_DATA_DIR'>,
  variable: string,
  fileName: string,
  generate: () => string,
  valid: (key: string) => boolean,
): AdminKey {
  if (config.MODE === 'PROD') throw new Error(`${variable} is required when MODE=PROD`);
  if (config.PULSE_DATA_DIR.startsWith('memory://')) return { key: (inMemoryKeys[variable] ??= generate()) };
  const file = path.resolve(config.PULSE_DATA_DIR, fileName);
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim();
    if (valid(stored)) return { key: stored, file };
  }
  const key = generate();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, file };
}

const inMemoryKeys: Record<string, string> = {};

export interface RuntimeInfo {
  httpUrl: string;
  mqttUrl: string | undefined;
}

const runtimeFile = (dataDir: string) => path.resolve(dataDir, 'runtime.json');

export function writeRuntimeInfo(dataDir: string, info: RuntimeInfo): void {
  mkdirSync(path.resolve(dataDir), { recursive: true });
  writeFileSync(runtimeFile(dataDir), `${JSON.stringify(info)}\n`, { mode: 0o600 });
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

const portFile = (dataDir: string, name: string) => path.resolve(dataDir, `${name}-port`);

/** The port a listener fell back to last time, if it had to. */
export function rememberedPort(dataDir: string, name: string): number | undefined {
  if (dataDir.startsWith('memory://')) return undefined;
  try {
    const port = Number(readFileSync(portFile(dataDir, name), 'utf8').trim());
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
  } catch {
    return undefined;
  }
}

export function rememberPort(dataDir: string, name: string, port: number): void {
  if (dataDir.startsWith('memory://')) return;
  mkdirSync(path.resolve(dataDir), { recursive: true });
  writeFileSync(portFile(dataDir, name), `${port}\n`, { mode: 0o600 });
}
