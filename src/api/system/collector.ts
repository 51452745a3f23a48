// Samples the platform every METRICS_COLLECTION_INTERVAL seconds into system_metrics: each component's
// health (1/0), its counters as per-second rates and its gauges, and platform-wide gauges from the
// database. Keeps METRICS_RETENTION_DAYS of history.
import type { Logger } from 'pino';
import type { Database } from '../../db/database.js';
import type { ComponentHealth } from '../../contracts/health.js';
import { ratesBetween, type CounterSnapshot, type Rate } from './rates.js';
import { insertSamples, platformGauges, pruneSamples } from '../../model/system.js';

const PRUNE_EVERY_MS = 3600_000;

export interface Sample {
  time: Date;
  components: Record<string, ComponentHealth>;
  rates: Rate[];
  platform: Record<string, number>;
}

function countersOf(components: Record<string, ComponentHealth>): CounterSnapshot {
  const snapshot: CounterSnapshot = {};
  for (const [service, health] of Object.entries(components)) {
    const counters = health.counters;
    if (counters && typeof counters === 'object') {
      snapshot[service] = Object.fromEntries(
        Object.entries(counters as Record<string, unknown>).filter(
          (entry): entry is [string, number] => typeof entry[1] === 'number',
        ),
      );
    }
  }
  return snapshot;
}

export class MetricsCollector {
  latest: Sample | undefined;
  private previous: { at: number; counters: CounterSnapshot } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPrune = 0;

  constructor(
    private readonly deps: {
      db: Database;
      checkComponents: () => Promise<Record<string, ComponentHealth>>;
      intervalMs: number;
      retentionDays: number;
      log: Logger;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.sample().catch((error: unknown) => this.deps.log.warn({ err: error }, 'could not sample system metrics'));
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sample(): Promise<Sample> {
    const at = Date.now();
    const components = await this.deps.checkComponents();
    const counters = countersOf(components);
    const rates = ratesBetween(this.previous?.counters, counters, this.previous ? (at - this.previous.at) / 1000 : 0);
    this.previous = { at, counters };
    const { db } = this.deps;
    const platform = await db.withService((tx) => platformGauges(tx));
    const time = new Date(at);
    const rows = [
      ...Object.entries(components).map(([service, health]) => ({
        service,
        metric: 'healthy',
        value: health.status === 'ok' ? 1 : 0,
      })),
      ...rates,
      ...Object.entries(platform).map(([metric, value]) => ({
        service: metric === 'connections' || metric === 'db_size_bytes' ? 'postgres' : 'platform',
        metric,
        value: Number(value),
      })),
    ];
    await db.withService(async (tx) => {
      await insertSamples(tx, time, rows);
      if (at - this.lastPrune > PRUNE_EVERY_MS) {
        await pruneSamples(tx, this.deps.retentionDays);
        this.lastPrune = at;
      }
    });
    this.latest = { time, components, rates, platform };
    return this.latest;
  }
}
