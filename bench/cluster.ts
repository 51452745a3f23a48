// Cluster benchmark: `npm run bench:cluster -- [--devices N] [--messages M] [--rate R|max] [--qos 0|1] [--partitions P] [--profile dir]`.
// On this one machine: a 3-node NATS cluster, a private Mosquitto, a fresh PostgreSQL database, and Pulse
// as 2 ingest + 2 evaluator + 1 api/provision processes (the built CLI). N devices of one tenant with one
// rule (temp_c > 1000). The load carries the simulator's metrics, round-robin over the devices; in round
// r device r sends one probe that violates the rule (each device at most once), so message→alert
// latency is measured on a loaded pipeline. Then an evaluator is killed (SIGKILL) and probes continue for devices it owned: failover is
// the time from the kill to the first alert the survivor opens for one of them.
// Reports stored msg/s, lost, message→alert p50/p99 and failover; writes bench/results/cluster-*.json.
import mqtt from 'mqtt';
import pg from 'pg';
import { partitionOf } from '../src/bus/partitions.js';
import { asSuperuser, dropDatabase, uniqueName, urlFor } from '../test/helpers/databases.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { startNatsCluster } from '../test/helpers/nats.js';
import { startPulse, type PulseProcess } from '../test/helpers/processes.js';
import { provisionDevices } from '../test/helpers/provision.js';
import { RawPublisher, sendAll, simulatedTelemetry } from './mqtt-load.js';
import { benchArgs, saveResult, storedWhenSettled } from './results.js';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const args = benchArgs();
const DEVICES = Number(args.get('devices') ?? 1000);
const MESSAGES = Number(args.get('messages') ?? 200_000);
const RATE = args.get('rate') === undefined ? 10_000 : args.get('rate') === 'max' ? Infinity : Number(args.get('rate'));
const QOS = Number(args.get('qos') ?? 1) as 0 | 1;
// Unset: Pulse's default (a new cluster's count).
const PARTITIONS = args.get('partitions');
// `--profile <dir>`: every Pulse process writes a V8 CPU profile there when it stops (not the killed evaluator).
const PROFILE = args.get('profile');
const ADMIN_KEY = 'bench-admin-key-0123456789';
/** The settings and rules polls take effect meanwhile; the cluster's CPU at rest is measured over it. */
const REST_SECONDS = 6;

type CpuSample = Map<number, { kind: string; seconds: number }>;

/**
 * CPU seconds used so far by each process on the machine (from /proc), with its kind. PostgreSQL backends
 * count under the Pulse process they serve (their application_name, e.g. `postgres:pulse+ingest`).
 */
async function cpuSeconds(): Promise<CpuSample> {
  const backends = new Map(
    (
      await sql.query<{ pid: number; application_name: string }>(
        `SELECT pid, application_name FROM pg_stat_activity WHERE application_name LIKE 'pulse %'`,
      )
    ).rows.map((row) => [row.pid, row.application_name.replaceAll(' ', '+')]),
  );
  const ticks = 100; // USER_HZ
  const sample: CpuSample = new Map();
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let command: string;
    let stat: string[];
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    } catch {
      continue; // gone meanwhile
    }
    const kind =
      Number(pid) === process.pid
        ? 'generator'
        : command.includes('nats-server')
          ? 'nats'
          : command.includes('mosquitto')
            ? 'mosquitto'
            : command.startsWith('postgres')
              ? backends.has(Number(pid))
                ? `postgres:${backends.get(Number(pid))}`
                : 'postgres'
              : (/dist\/cli\.js run (.+)$/.exec(command.trim())?.[1]?.replaceAll(' ', '+') ?? undefined);
    if (kind) sample.set(Number(pid), { kind, seconds: (Number(stat[11]) + Number(stat[12])) / ticks });
  }
  return sample;
}

/** Share of one core each kind used between two samples (2 cores = 200 %); processes that ended are left out. */
function cpuShares(prefix: string, before: CpuSample, after: CpuSample, seconds: number) {
  const byKind: Record<string, number> = {};
  for (const [pid, { kind, seconds: used }] of after) {
    byKind[kind] = (byKind[kind] ?? 0) + used - (before.get(pid)?.seconds ?? 0);
  }
  return Object.fromEntries(
    Object.entries(byKind).map(([kind, used]) => [`${prefix}_${kind}`, Math.round((used / seconds) * 100)]),
  );
}

const nats = await startNatsCluster(3);
const mosquitto = await startMosquitto();
const database = uniqueName('pulse_bench_cluster');
await asSuperuser((client) => client.query(`CREATE DATABASE ${database}`));
const env = {
  DATABASE_URL: urlFor(database),
  NATS_URL: nats.urls,
  MQTT_URL: mosquitto.url,
  MQTT_SHARED_GROUP: 'bench-cluster',
  ADMIN_KEY,
  ...(PARTITIONS && { EVALUATOR_PARTITIONS: PARTITIONS }),
  HEARTBEAT_STALE_SECONDS: '300',
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  // NATS_STREAM_REPLICAS=1 shows what replicating every event on three nodes of one 2-core machine costs.
  NATS_STREAM_REPLICAS: process.env.NATS_STREAM_REPLICAS ?? '',
  // ROLLUP_INTERVAL_SECONDS=30 shows what folding telemetry into rollups every 5 s costs PostgreSQL.
  ...(process.env.ROLLUP_INTERVAL_SECONDS && { ROLLUP_INTERVAL_SECONDS: process.env.ROLLUP_INTERVAL_SECONDS }),
};
const migrated = spawnSync(process.execPath, ['dist/app/cli.js', 'migrate'], { env: { ...process.env, ...env } });
if (migrated.status !== 0) throw new Error(`migrate failed: ${migrated.stderr}`);

const processes: PulseProcess[] = [];
const start = async (name: string, roles: string[], extra: Record<string, string> = {}) => {
  const started = await startPulse(
    name,
    ['run', ...roles],
    { ...env, ...extra },
    {
      nodeArgs: PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=${name}.cpuprofile`] : [],
    },
  );
  processes.push(started);
  return started;
};
const sql = new pg.Pool({ connectionString: urlFor(database) });
const result: Record<string, unknown> = {};
try {
  const api = await start('api', ['api', 'provision']);
  const evaluators = [await start('evaluator-1', ['evaluator']), await start('evaluator-2', ['evaluator'])];
  const ingests = [
    await start('ingest-1', ['ingest'], { MQTT_CLIENT_ID: `bench-cluster-ingest-1-${process.pid}` }),
    await start('ingest-2', ['ingest'], { MQTT_CLIENT_ID: `bench-cluster-ingest-2-${process.pid}` }),
  ];
  await sql.query(
    `INSERT INTO app_settings (key, value) VALUES ('RATE_LIMIT_RPS', '100000'), ('RATE_LIMIT_BURST', '100000')`,
  );
  await sql.query(`INSERT INTO tenants (tenant_id, name) VALUES ('bench', 'bench') ON CONFLICT DO NOTHING`);
  await sql.query(
    `INSERT INTO alert_rules (tenant_id, name, metric_name, operator, threshold, severity)
     VALUES ('bench', 'Overheat', 'temp_c', 'GT', 1000, 4)`,
  );

  // Devices through the provisioning API.
  const plan = Array.from({ length: DEVICES }, (_, i) => ({
    tenant_id: 'bench',
    device_id: `dev-${i}`,
    site_id: 'lab',
  }));
  const byKey = await provisionDevices(api.base, ADMIN_KEY, plan);
  const tokens = new Map([...byKey].map(([key, token]) => [key.slice('bench/'.length), token]));
  // The app_settings and rules polls; meanwhile, what the cluster costs at rest.
  const cpuAtRest = await cpuSeconds();
  await new Promise((resolve) => setTimeout(resolve, REST_SECONDS * 1000));
  const cpuAfterRest = await cpuSeconds();

  // The load, encoded before the clock starts; probes violate the rule once per device.
  const messages = simulatedTelemetry({
    tokens: plan.map((device) => tokens.get(device.device_id)!),
    count: MESSAGES,
    qos: QOS,
    siteId: 'lab',
    seed: 7,
    adjust: (metrics, sent, device) => {
      const round = Math.floor(sent / DEVICES);
      return round < DEVICES && device === round ? { ...metrics, temp_c: 2000 } : metrics;
    },
  });
  const publishers = await Promise.all(
    Array.from({ length: 4 }, (_, i) => RawPublisher.connect('127.0.0.1', mosquitto.port, `bench-cluster-pub-${i}`)),
  );
  const cpuBefore = await cpuSeconds();
  const publishSeconds = await sendAll(publishers, messages, { rate: RATE });
  const cpuDuring = await cpuSeconds();
  // JetStream messages the ingest processes stored, against telemetry rows: how well events are batched.
  let jetstreamMessages = 0;
  for (const ingest of ingests) jetstreamMessages += (await ingest.health()).components.bus.counters.published;
  await Promise.all(publishers.map((publisher) => publisher.close()));

  const stored = await storedWhenSettled(sql, MESSAGES);
  // The evaluators may still be behind: wait until their partitions' consumers hold nothing.
  const evaluatorBacklog = async () => {
    let backlog = 0;
    for (const evaluator of evaluators) {
      const consumers = (await evaluator.health()).components.bus.consumers as Record<
        string,
        { pending: number; ack_pending: number }
      >;
      for (const consumer of Object.values(consumers)) backlog += consumer.pending + consumer.ack_pending;
    }
    return backlog;
  };
  const caughtUpAfter = Date.now();
  while ((await evaluatorBacklog()) > 0 && Date.now() - caughtUpAfter < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const evaluatorsCaughtUpSeconds = (Date.now() - caughtUpAfter) / 1000;
  let redelivered = 0;
  for (const evaluator of evaluators) redelivered += (await evaluator.health()).components.bus.counters.redelivered;
  await new Promise((resolve) => setTimeout(resolve, 1000)); // their last flushes
  const steady = (
    await sql.query(`
      WITH bounds AS (SELECT min(time) + interval '2 seconds' AS lo, max(time) AS hi FROM telemetry)
      SELECT count(*) FILTER (WHERE ingested_at BETWEEN lo AND hi) / nullif(extract(epoch FROM hi - lo), 0) AS rate,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ingested_at - time)) AS store_p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ingested_at - time)) AS store_p99
      FROM telemetry, bounds GROUP BY lo, hi`)
  ).rows[0];
  // Message→alert: from a probe's time (stamped when sent) to its alert's creation.
  const alerts = (
    await sql.query(`
      SELECT count(*) AS probes, count(a.created_at) AS alerted,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.created_at - t.time)) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM a.created_at - t.time)) AS p99,
             max(extract(epoch FROM a.created_at - t.time)) AS max
      FROM telemetry t
      LEFT JOIN LATERAL (
        SELECT created_at FROM fleet_alert a
        WHERE a.tenant_id = t.tenant_id AND a.device_id = t.device_id AND a.alert_type = 'THRESHOLD'
        ORDER BY created_at LIMIT 1) a ON true
      WHERE (t.metrics->>'temp_c')::float = 2000`)
  ).rows[0];
  const duplicates = Number(
    (
      await sql.query(
        `SELECT count(*) AS n FROM (SELECT 1 FROM fleet_alert GROUP BY tenant_id, fingerprint HAVING count(*) > 1) d`,
      )
    ).rows[0].n,
  );

  // Failover: kill the evaluator that owns partitions, keep probing its devices over MQTT.
  const { owned, total } = (await evaluators[1]!.health()).components.evaluator.partitions as {
    owned: number[];
    total: number;
  };
  result.partitions = total;
  const ofDead = plan
    .map((d) => d.device_id)
    .filter((id) => owned.includes(partitionOf('bench', id, total)))
    .filter((id) => Number(id.slice(4)) >= Math.ceil(MESSAGES / DEVICES)); // not probed yet: no alert open
  const prober = await mqtt.connectAsync(mosquitto.url, { clientId: `bench-cluster-prober-${process.pid}` });
  const killedAt = new Date();
  await evaluators[1]!.kill('SIGKILL');
  let failoverMs: number | undefined;
  for (let i = 0; i < ofDead.length && failoverMs === undefined && Date.now() - killedAt.getTime() < 60_000; i++) {
    const device = ofDead[i]!;
    await prober.publishAsync(
      `tenant/bench/device/${device}/telemetry`,
      JSON.stringify({ site_id: 'lab', provision_token: tokens.get(device), seq: 1e9 + i, metrics: { temp_c: 2000 } }),
      { qos: 1 },
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
    const first = await sql.query(
      `SELECT min(created_at) AS at FROM fleet_alert WHERE device_id = ANY($1) AND created_at > $2`,
      [ofDead, killedAt],
    );
    if (first.rows[0].at) failoverMs = (first.rows[0].at as Date).getTime() - killedAt.getTime();
  }
  await prober.endAsync();

  Object.assign(result, {
    devices: DEVICES,
    messages: MESSAGES,
    qos: QOS,
    offered_rate: RATE === Infinity ? 'max' : RATE,
    processes: '2 ingest + 2 evaluator + api/provision; NATS ×3, Mosquitto, PostgreSQL',
    offered_msg_per_s: Math.round(MESSAGES / publishSeconds),
    stored,
    lost: MESSAGES - stored,
    stored_msg_per_s: Math.round(Number(steady.rate)),
    evaluators_caught_up_s_after_last_row: Math.round(evaluatorsCaughtUpSeconds * 10) / 10,
    store_latency_p50_ms: Math.round(Number(steady.store_p50) * 1000),
    store_latency_p99_ms: Math.round(Number(steady.store_p99) * 1000),
    probes: Number(alerts.probes),
    probes_alerted: Number(alerts.alerted),
    message_to_alert_p50_ms: Math.round(Number(alerts.p50) * 1000),
    message_to_alert_p99_ms: Math.round(Number(alerts.p99) * 1000),
    message_to_alert_max_ms: Math.round(Number(alerts.max) * 1000),
    alerts_opened_twice: duplicates,
    evaluator_events_redelivered: redelivered,
    stored_events_per_jetstream_message: Math.round(stored / Math.max(1, jetstreamMessages)),
    failover_ms: failoverMs ?? 'no alert within 60 s',
    // Share of one core each kind of process used while publishing (2 cores = 200 %), and at rest.
    ...cpuShares('cpu_pct', cpuBefore, cpuDuring, publishSeconds),
    ...cpuShares('rest_cpu_pct', cpuAtRest, cpuAfterRest, REST_SECONDS),
  });
} finally {
  await sql.end();
  await Promise.all(processes.map((p) => p.kill('SIGTERM')));
  await mosquitto.close();
  await nats.close();
  await dropDatabase(database);
}
console.table(result);
saveResult('cluster', result);
process.exit(0);
