// The ingest role: device messages from MQTT and HTTP into telemetry, or counted into quarantine.
import { readFile } from 'node:fs/promises';
import type { RoleDeps, RunningRole } from '../roles.js';
import { registerHttpIngest } from './http-routes.js';
import { startEmbeddedSource, startMqttSource, type MqttSource } from './mqtt-source.js';
import { IngestPipeline } from './pipeline.js';
import { recentDevices } from './repository.js';
import { defaultIngestSettings, watchSettings } from './settings.js';

export async function start(deps: RoleDeps): Promise<RunningRole> {
  const { config, db, log, bus } = deps;
  const defaults = defaultIngestSettings(config.MODE);
  const pipeline = new IngestPipeline(
    db,
    bus,
    log,
    defaults,
    {
      batchSize: config.BATCH_SIZE,
      writerConcurrency: db.engine === 'pglite' ? 1 : config.INGEST_WRITERS,
      flushIntervalMs: config.FLUSH_INTERVAL_MS,
      maxBacklog: config.INGEST_QUEUE_SIZE,
      authCacheTtlMs: config.AUTH_CACHE_TTL_SECONDS * 1000,
      authCacheNegativeTtlMs: config.AUTH_CACHE_NEGATIVE_TTL_SECONDS * 1000,
      authCacheMaxSize: config.AUTH_CACHE_MAX_SIZE,
      maxClockSkewSeconds: config.MAX_CLOCK_SKEW_SECONDS,
    },
    deps.metrics,
  );
  pipeline.cache.preload(await recentDevices(db, config.AUTH_CACHE_MAX_SIZE));
  const settings = await watchSettings(db, defaults, config.SETTINGS_POLL_SECONDS * 1000, log, (next) =>
    pipeline.applySettings(next),
  );
  const unsubscribe = bus.subscribe('device.changed', ({ tenant_id, device_id }) =>
    pipeline.forgetDevice(tenant_id, device_id),
  );
  registerHttpIngest(deps.http.app, {
    pipeline,
    singleBodyLimit: config.HTTP_INGEST_MAX_BODY_BYTES,
    batchBodyLimit: config.HTTP_INGEST_MAX_BATCH_BYTES,
  });

  let mqttSource: MqttSource | undefined;
  if (config.MQTT_URL) {
    mqttSource = await startMqttSource({
      url: config.MQTT_URL,
      sharedGroup: config.MQTT_SHARED_GROUP,
      clientId: config.MQTT_CLIENT_ID,
      ca: config.MQTT_CA_FILE ? await readCa(config.MQTT_CA_FILE) : undefined,
      pipeline,
      log,
    });
  } else if (deps.embeddedBroker) {
    mqttSource = await startEmbeddedSource(deps.embeddedBroker, pipeline, log);
  }

  return {
    name: 'ingest',
    health: () => ({
      status: mqttSource && !mqttSource.isConnected() ? 'degraded' : 'ok',
      service: 'ingest',
      counters: {
        messages_received: pipeline.counters.received,
        messages_accepted: pipeline.counters.accepted,
        messages_written: pipeline.counters.written,
        messages_rejected: pipeline.counters.rejected,
        queue_depth: pipeline.writer.backlog,
      },
      rejected_by_reason: Object.fromEntries(pipeline.quarantine.countsByReason),
      last_write_at: pipeline.lastWriteAt?.toISOString() ?? null,
      last_flush_latency_ms: pipeline.writer.stats.lastFlushLatencyMs,
      write_retries: pipeline.writer.stats.retries,
      mqtt: mqttSource ? { subscription: mqttSource.subscription, connected: mqttSource.isConnected() } : null,
      settings: settings.current(),
    }),
    async stop() {
      unsubscribe();
      settings.stop();
      await mqttSource?.stop();
      await pipeline.stop();
    },
  };
}

async function readCa(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new Error(`MQTT_CA_FILE: cannot read ${file} (${(error as Error).message})`);
  }
}
