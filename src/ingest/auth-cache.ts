// Registry entries by (tenant, device), so a message costs no database query: positive entries live
// AUTH_CACHE_TTL_SECONDS, "not registered" answers a shorter negative TTL. At most maxSize entries; when
// full, the oldest tenth is evicted (as the reference). Concurrent misses for one device share one query.
// Provisioning changes in this process invalidate at once (bus `device.changed`); elsewhere within the TTL.
import type { RegistryEntry } from './validate.js';

export interface AuthCacheOptions {
  ttlMs: number;
  negativeTtlMs: number;
  maxSize: number;
  now?: () => number;
}

type Loader = (tenantId: string, deviceId: string) => Promise<RegistryEntry | null>;

export class DeviceAuthCache {
  private readonly entries = new Map<string, { entry: RegistryEntry | null; expiresAt: number }>();
  private readonly loading = new Map<string, Promise<RegistryEntry | null>>();
  private readonly now: () => number;
  readonly stats = { hits: 0, misses: 0 };

  constructor(
    private readonly load: Loader,
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
    const loading = this.load(tenantId, deviceId).then(
      (entry) => {
        this.loading.delete(key);
        this.store(key, entry);
        return entry;
      },
      (error: unknown) => {
        this.loading.delete(key);
        throw error;
      },
    );
    this.loading.set(key, loading);
    return loading;
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
