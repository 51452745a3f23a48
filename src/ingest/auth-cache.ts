// Registry entries by (tenant, device), so a message costs no database query: positive entries live
// AUTH_CACHE_TTL_SECONDS, "not registered" answers a shorter negative TTL. At most maxSize entries; when
// full, the oldest tenth is evicted (as the original's). Misses are loaded in batches: every device missed
// in one event-loop turn in one query (a restarted ingest, or a fleet provisioned after it started, meets
// thousands of unknown devices at once; one transaction each would queue the telemetry writes behind
// them), and concurrent misses for one device share its load.
// Provisioning changes invalidate at once (bus `device.changed`, from any process over NATS); when the
// bus connection was lost and such events may have been missed, the whole cache goes.
import { isDataException } from '../lib/sqlstate.js';
import type { DeviceKey, RegistryEntry } from '../model/device-registry.js';

export interface AuthCacheOptions {
  ttlMs: number;
  negativeTtlMs: number;
  maxSize: number;
  now?: () => number;
}

/** Loads registry entries for `keys`, in the same order (null: not registered). */
export type BatchLoader = (keys: DeviceKey[]) => Promise<(RegistryEntry | null)[]>;

/** Most devices loaded by one query. */
const MAX_BATCH = 1000;

interface QueuedLoad extends DeviceKey {
  key: string;
  resolve: (entry: RegistryEntry | null) => void;
  reject: (error: unknown) => void;
}

export class DeviceAuthCache {
  private readonly entries = new Map<string, { entry: RegistryEntry | null; expiresAt: number }>();
  private readonly loading = new Map<string, Promise<RegistryEntry | null>>();
  private queued: QueuedLoad[] = [];
  private readonly now: () => number;
  readonly stats = { hits: 0, misses: 0, loads: 0 };

  constructor(
    private readonly load: BatchLoader,
    private readonly options: AuthCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The cached entry (null: known not to be registered), or undefined when it must be loaded. */
  peek(tenantId: string, deviceId: string): RegistryEntry | null | undefined {
    const cached = this.entries.get(`${tenantId}\u0000${deviceId}`);
    if (!cached || cached.expiresAt <= this.now()) return undefined;
    this.stats.hits += 1;
    return cached.entry;
  }

  async get(tenantId: string, deviceId: string): Promise<RegistryEntry | null> {
    const cached = this.peek(tenantId, deviceId);
    if (cached !== undefined) return cached;
    const key = `${tenantId}\u0000${deviceId}`;
    this.stats.misses += 1;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const loading = new Promise<RegistryEntry | null>((resolve, reject) => {
      if (this.queued.push({ tenantId, deviceId, key, resolve, reject }) === 1) setImmediate(() => this.loadQueued());
    });
    this.loading.set(key, loading);
    return loading;
  }

  private loadQueued(): void {
    const queued = this.queued;
    this.queued = [];
    for (let start = 0; start < queued.length; start += MAX_BATCH)
      this.loadBatch(queued.slice(start, start + MAX_BATCH));
  }

  private loadBatch(batch: QueuedLoad[]): void {
    this.stats.loads += 1;
    this.load(batch).then(
      (entries) =>
        batch.forEach((load, i) => {
          this.loading.delete(load.key);
          this.store(load.key, entries[i] ?? null);
          load.resolve(entries[i] ?? null);
        }),
      (error: unknown) => {
        // One key the database refuses as data fails the whole query: the others load alone, not with it.
        if (batch.length > 1 && isDataException(error)) return batch.forEach((load) => this.loadBatch([load]));
        batch.forEach((load) => {
          this.loading.delete(load.key);
          load.reject(error);
        });
      },
    );
  }

  /** Fills the cache ahead of traffic (a restarted ingest meets a whole fleet at once). */
  preload(entries: { tenant_id: string; device_id: string; entry: RegistryEntry }[]): void {
    for (const { tenant_id, device_id, entry } of entries.slice(0, this.options.maxSize)) {
      this.store(`${tenant_id}\u0000${device_id}`, entry);
    }
  }

  invalidate(tenantId: string, deviceId: string): void {
    this.entries.delete(`${tenantId}\u0000${deviceId}`);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private store(key: string, entry: RegistryEntry | null): void {
    if (this.entries.size >= this.options.maxSize) {
      const evict = Math.max(1, Math.floor(this.entries.size * 0.1));
      const keys = this.entries.keys();
      for (let i = 0; i < evict; i++) this.entries.delete(keys.next().value as string);
    }
    this.entries.delete(key);
    const ttl = entry ? this.options.ttlMs : this.options.negativeTtlMs;
    this.entries.set(key, { entry, expiresAt: this.now() + ttl });
  }
}
