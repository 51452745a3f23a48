// Runtime ingest settings: one set of defaults, here; a row in app_settings overrides its key. Read
// every SETTINGS_POLL_SECONDS by each ingest process, so a change applies without a restart.
import type { Logger } from 'pino';
import type { Database, OperatorTx } from '../db/database.js';

export interface IngestSettings {
  mode: 'DEV' | 'PROD';
  storeRejects: boolean;
  maxPayloadBytes: number;
  rateLimitRps: number;
  rateLimitBurst: number;
}

export const SETTING_KEYS = [
  'MODE',
  'STORE_REJECTS',
  'MAX_PAYLOAD_BYTES',
  'RATE_LIMIT_RPS',
  'RATE_LIMIT_BURST',
] as const;

export function defaultIngestSettings(mode: 'DEV' | 'PROD'): IngestSettings {
  return { mode, storeRejects: false, maxPayloadBytes: 8192, rateLimitRps: 5, rateLimitBurst: 20 };
}

const truthy = (value: string) => ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
const positive = (value: string, fallback: number) => {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
};

/** Applies app_settings rows over the defaults; unknown or malformed values keep the default. */
export function applySettingRows(defaults: IngestSettings, rows: { key: string; value: string }[]): IngestSettings {
  const settings = { ...defaults };
  for (const { key, value } of rows) {
    switch (key) {
      case 'MODE':
        // Anything but DEV means PROD, the safe side (docs/wire-contract.md#runtime-settings).
        settings.mode = value.trim().toUpperCase() === 'DEV' ? 'DEV' : 'PROD';
        break;
      case 'STORE_REJECTS':
        settings.storeRejects = truthy(value);
        break;
      case 'MAX_PAYLOAD_BYTES':
        settings.maxPayloadBytes = Math.floor(positive(value, defaults.maxPayloadBytes));
        break;
      case 'RATE_LIMIT_RPS':
        settings.rateLimitRps = positive(value, defaults.rateLimitRps);
        break;
      case 'RATE_LIMIT_BURST':
        settings.rateLimitBurst = positive(value, defaults.rateLimitBurst);
        break;
    }
  }
  return settings;
}

/** What happens to a reject's event row: stored with its payload (DEV), without it (PROD + STORE_REJECTS), or not at all. */
export function rejectStorage(settings: IngestSettings): 'payload' | 'event-only' | 'none' {
  if (settings.mode === 'DEV') return 'payload';
  return settings.storeRejects ? 'event-only' : 'none';
}

export interface SettingsSource {
  current(): IngestSettings;
  stop(): void;
}

export async function watchSettings(
  db: Database,
  defaults: IngestSettings,
  pollMs: number,
  log: Logger,
  onChange: (settings: IngestSettings) => void,
): Promise<SettingsSource> {
  const load = async () => {
    const { rows } = await db.withService((tx) =>
      tx.query<{ key: string; value: string }>('SELECT key, value FROM app_settings WHERE key = ANY($1::text[])', [
        SETTING_KEYS,
      ]),
    );
    return applySettingRows(defaults, rows);
  };
  let settings = await load();
  onChange(settings);
  const timer = setInterval(() => {
    load().then(
      (next) => {
        if (JSON.stringify(next) !== JSON.stringify(settings)) {
          settings = next;
          log.info({ settings }, 'ingest settings changed');
          onChange(settings);
        }
      },
      (error: unknown) => log.warn({ err: error }, 'could not read app_settings; keeping the current settings'),
    );
  }, pollMs);
  timer.unref();
  return { current: () => settings, stop: () => clearInterval(timer) };
}

export async function settingRows(tx: OperatorTx) {
  return (
    await tx.query<{ key: string; value: string; updated_at: Date }>(`SELECT key, value, updated_at FROM app_settings`)
  ).rows;
}

export async function saveSettings(tx: OperatorTx, values: Record<string, string>) {
  await tx.query(
    `INSERT INTO app_settings (key, value) SELECT key, value FROM jsonb_each_text($1::jsonb)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [JSON.stringify(values)],
  );
}
