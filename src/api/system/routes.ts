// /operator/system (docs/wire-contract.md#operator-api) for operator roles, audited like every operator
// request: component health, throughput as rates, metric history (single and batch), capacity, platform
// aggregates and recent errors. Timestamps are plain ISO-8601 (the original printed "+00:00Z").
import { statfs } from 'node:fs/promises';
import { Type, type Static, type TInteger } from '@sinclair/typebox';
import type { App } from '../../http/server.js';
import { Nullable, Obj, OneOf, Timestamp } from '../../lib/schema.js';
import type { ComponentHealth } from '../../contracts/health.js';
import type { Audited } from '../operator/audit.js';
import type { MetricsCollector } from './collector.js';
import * as systemModel from '../../model/system.js';

const tags = ['operator/system'];
const Minutes = Type.Integer({ minimum: 1, maximum: 1440, default: 15 });
const HistoryQuery = Type.Object({
  metric: Type.String({ minLength: 1 }),
  minutes: Minutes,
  service: Type.Optional(Type.String()),
});
const BatchQuery = Type.Object({
  metrics: Type.String({ minLength: 1, description: 'comma-separated metric names' }),
  minutes: Minutes,
  service: Type.Optional(Type.String()),
});
const ErrorsQuery = Type.Object({
  hours: Type.Integer({ minimum: 1, maximum: 24, default: 1 }),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
});

/** A component's health: its status and what it reports of itself (latency, connections, …). */
const SystemComponent = Type.Object(
  {
    status: OneOf(['healthy', 'degraded', 'down', 'unknown']),
    latency_ms: Type.Optional(Type.Number()),
  },
  { additionalProperties: true },
);
const MetricHistory = Obj({
  metric: Type.String(),
  service: Nullable(Type.String()),
  minutes: Type.Integer(),
  points: Type.Array(Obj({ time: Timestamp, value: Type.Number(), service: Type.String() })),
});
const Counts = <K extends string>(...names: K[]) =>
  Obj(Object.fromEntries(names.map((name) => [name, Type.Integer()])) as Record<K, TInteger>);
const Aggregates = Obj({
  tenants: Counts('active', 'suspended', 'deleted', 'total'),
  devices: Counts('registered', 'active', 'revoked', 'online', 'stale', 'offline'),
  alerts: Counts('open', 'acknowledged', 'closed', 'triggered_1h', 'triggered_24h'),
  integrations: Obj({
    total: Type.Integer(),
    active: Type.Integer(),
    by_type: Counts('webhook', 'snmp', 'email', 'mqtt'),
  }),
  rules: Counts('total', 'active'),
  deliveries: Counts('pending', 'succeeded', 'failed', 'total_24h'),
  sites: Counts('total'),
  last_activity: Obj({ alert: Nullable(Timestamp), device: Nullable(Timestamp), delivery: Nullable(Timestamp) }),
});

type SystemStatus = 'healthy' | 'degraded' | 'down' | 'unknown';
const STATUS: Record<string, SystemStatus> = { ok: 'healthy', degraded: 'degraded', down: 'down' };

export interface SystemDeps {
  audited: Audited;
  collector: MetricsCollector;
  checkComponents: () => Promise<Record<string, ComponentHealth>>;
  /** Extra components checked from here: the broker (when external) and the identity issuer. */
  probes: Record<string, () => Promise<ComponentHealth>>;
  dataDir: string;
  metricsIntervalSeconds: number;
}

async function timed(check: () => Promise<ComponentHealth>): Promise<ComponentHealth> {
  const started = performance.now();
  try {
    const result = await check();
    return { latency_ms: Math.round((performance.now() - started) * 100) / 100, ...result };
  } catch (error) {
    return { status: 'down', error: (error as Error).message, latency_ms: Math.round(performance.now() - started) };
  }
}

export function registerSystemRoutes(app: App, deps: SystemDeps): void {
  const { audited, collector } = deps;
  const history = async (
    tx: Parameters<Parameters<Audited>[2]>[0],
    metric: string,
    service: string | undefined,
    minutes: number,
  ) => {
    const rows = await systemModel.metricHistory(tx, metric, service, minutes);
    return {
      metric,
      service: service ?? null,
      minutes,
      points: rows.map(({ time, value, service: from }) => ({ time, value, service: from })),
    };
  };

  // Checks that use the database of their own run before the audited transaction takes a connection
  // (the embedded database has exactly one).
  app.get(
    '/operator/system/health',
    {
      schema: {
        tags,
        summary: 'Health of every component',
        response: {
          200: Obj({
            status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded')]),
            components: Type.Record(Type.String(), SystemComponent),
            checked_at: Timestamp,
          }),
        },
      },
    },
    async (request) => {
      const [components, probes] = await Promise.all([
        deps.checkComponents(),
        Promise.all(Object.entries(deps.probes).map(async ([name, probe]) => [name, await timed(probe)] as const)),
      ]);
      return audited(request, { action: 'view_system_health' }, async (tx) => {
        const all: Record<string, ComponentHealth> = { ...components, ...Object.fromEntries(probes) };
        all.database = { ...all.database!, ...(await systemModel.databaseConnections(tx)) };
        const report = Object.fromEntries(
          Object.entries(all).map(([name, health]) => [
            name,
            { ...health, status: STATUS[health.status] ?? 'unknown' },
          ]),
        );
        const healthy = Object.values(report).every((health) => health.status === 'healthy');
        return {
          status: healthy ? ('healthy' as const) : ('degraded' as const),
          components: report,
          checked_at: new Date(),
        };
      });
    },
  );

  app.get(
    '/operator/system/metrics',
    {
      schema: {
        tags,
        summary: 'Throughput (per second), totals and queues',
        response: {
          200: Obj({
            throughput: Type.Record(Type.String(), Nullable(Type.Number())),
            queues: Type.Record(Type.String(), Nullable(Type.Number())),
            last_activity: Obj({ last_ingest: Nullable(Timestamp), last_sample: Timestamp }),
            period: Type.String(),
            sampled_at: Timestamp,
          }),
        },
      },
    },
    (request) =>
      audited(request, { action: 'view_system_metrics' }, async () => {
        const sample = collector.latest ?? (await collector.sample());
        const rate = (service: string, metric: string) =>
          sample.rates.find((r) => r.service === service && r.metric === metric)?.value ?? null;
        const counter = (service: string, name: string) => {
          const counters = sample.components[service]?.counters as Record<string, number> | undefined;
          return counters?.[name] ?? null;
        };
        return {
          throughput: {
            ingest_rate_per_sec: rate('ingest', 'messages_written_per_sec'),
            messages_received_per_sec: rate('ingest', 'messages_received_per_sec'),
            messages_rejected_per_sec: rate('ingest', 'messages_rejected_per_sec'),
            alerts_opened_per_sec: rate('evaluator', 'alerts_opened_per_sec'),
            messages_received_total: counter('ingest', 'messages_received'),
            messages_written_total: counter('ingest', 'messages_written'),
            messages_rejected_total: counter('ingest', 'messages_rejected'),
            alerts_created_total: counter('evaluator', 'alerts_opened'),
            alerts_closed_total: counter('evaluator', 'alerts_closed'),
          },
          queues: {
            ingest_queue_depth: counter('ingest', 'queue_depth'),
            delivery_pending: sample.platform.deliveries_pending ?? null,
          },
          last_activity: {
            last_ingest: (sample.components.ingest?.last_write_at as string | null | undefined) ?? null,
            last_sample: sample.time,
          },
          period: `rates over the last ${deps.metricsIntervalSeconds} s; totals since each role started`,
          sampled_at: sample.time,
        };
      }),
  );

  app.get(
    '/operator/system/metrics/history',
    {
      schema: {
        tags,
        summary: 'One metric over the last minutes',
        querystring: HistoryQuery,
        response: { 200: MetricHistory },
      },
    },
    (request) => {
      const { metric, service, minutes } = request.query;
      return audited(request, { action: 'view_system_metrics' }, (tx) => history(tx, metric, service, minutes));
    },
  );

  app.get(
    '/operator/system/metrics/history/batch',
    {
      schema: {
        tags,
        summary: 'Several metrics over the last minutes',
        querystring: BatchQuery,
        response: { 200: Type.Record(Type.String(), MetricHistory, { description: 'metric name → its history' }) },
      },
    },
    (request) => {
      const { metrics, service, minutes } = request.query;
      const names = [
        ...new Set(
          metrics
            .split(',')
            .map((name) => name.trim())
            .filter(Boolean),
        ),
      ].slice(0, 20);
      return audited(request, { action: 'view_system_metrics' }, async (tx) => {
        const result: Record<string, Static<typeof MetricHistory>> = {};
        for (const name of names) result[name] = await history(tx, name, service, minutes);
        return result;
      });
    },
  );

  app.get(
    '/operator/system/metrics/latest',
    {
      schema: {
        tags,
        summary: 'The latest sample of every metric by service',
        response: { 200: Type.Record(Type.String(), Type.Record(Type.String(), Type.Number())) },
      },
    },
    (request) =>
      audited(request, { action: 'view_system_metrics' }, async (tx) => {
        const latest: Record<string, Record<string, number>> = {};
        for (const row of await systemModel.latestSamples(tx))
          (latest[row.service] ??= {})[row.metric_name] = row.value;
        return latest;
      }),
  );

  app.get(
    '/operator/system/capacity',
    {
      schema: {
        tags,
        summary: 'Database size, connections, largest tables, disk',
        response: {
          200: Obj({
            postgres: Obj({
              db_size_bytes: Type.Number(),
              db_size_mb: Type.Number(),
              connections_used: Type.Integer(),
              connections_max: Type.Integer(),
              connections_pct: Type.Number(),
              top_tables: Type.Array(
                Obj({ name: Type.String(), total_mb: Type.Number(), data_mb: Type.Number(), index_mb: Type.Number() }),
              ),
            }),
            disk: Obj({
              volumes: Obj({
                data: Obj({
                  path: Type.String(),
                  total_gb: Type.Optional(Type.Number()),
                  used_gb: Type.Optional(Type.Number()),
                  free_gb: Type.Optional(Type.Number()),
                  used_pct: Type.Optional(Type.Number()),
                  error: Type.Optional(Type.String()),
                }),
              }),
            }),
          }),
        },
      },
    },
    (request) =>
      audited(request, { action: 'view_system_capacity' }, async (tx) => {
        const database = await systemModel.databaseCapacity(tx);
        const mb = (bytes: number) => Math.round((bytes / 1048576) * 100) / 100;
        return {
          postgres: {
            db_size_bytes: database.db_size_bytes,
            db_size_mb: mb(database.db_size_bytes),
            connections_used: database.connections_used,
            connections_max: database.connections_max,
            connections_pct: Math.round((database.connections_used / database.connections_max) * 1000) / 10,
            top_tables: database.top_tables.map((t) => ({
              name: t.name,
              total_mb: mb(t.total_bytes),
              data_mb: mb(t.data_bytes),
              index_mb: mb(t.index_bytes),
            })),
          },
          disk: { volumes: { data: await volume(deps.dataDir) } },
        };
      }),
  );

  app.get(
    '/operator/system/aggregates',
    {
      schema: {
        tags,
        summary: 'Tenants, devices, alerts, integrations, deliveries in numbers',
        response: { 200: Aggregates },
      },
    },
    (request) => audited(request, { action: 'view_system_aggregates' }, (tx) => systemModel.aggregates(tx)),
  );

  app.get(
    '/operator/system/errors',
    {
      schema: {
        tags,
        summary: 'Recent delivery failures, rejects and denied operator requests',
        querystring: ErrorsQuery,
        response: {
          200: Obj({
            errors: Type.Array(
              Obj({
                source: Type.String({ description: 'delivery, ingest or auth' }),
                error_type: Type.String(),
                timestamp: Timestamp,
                tenant_id: Nullable(Type.String()),
                details: Type.Record(Type.String(), Type.Unknown()),
              }),
            ),
            counts: Obj({
              delivery_failures: Type.Integer(),
              quarantined: Type.Integer(),
              stuck_deliveries: Type.Integer(),
            }),
            period_hours: Type.Integer(),
          }),
        },
      },
    },
    (request) => {
      const { hours, limit } = request.query;
      return audited(request, { action: 'view_system_errors' }, async (tx) => ({
        ...(await systemModel.recentErrors(tx, hours, limit)),
        period_hours: hours,
      }));
    },
  );
}

async function volume(path: string) {
  const target = path.startsWith('memory://') ? process.cwd() : path;
  try {
    const stats = await statfs(target);
    const gb = (blocks: number) => Math.round(((blocks * stats.bsize) / 1024 ** 3) * 100) / 100;
    const total = gb(stats.blocks);
    const free = gb(stats.bavail);
    return {
      path: target,
      total_gb: total,
      used_gb: Math.round((total - free) * 100) / 100,
      free_gb: free,
      used_pct: Math.round(((total - free) / total) * 1000) / 10,
    };
  } catch (error) {
    return { path: target, error: (error as Error).message };
  }
}
