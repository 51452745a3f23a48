// The ingest role: device messages from MQTT and HTTP into telemetry, or counted into quarantine.
// `drain` is an ingest instance's last visit to the broker when it is removed for good (ADR 015).
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { RoleDeps, RunningRole } from '../roles.js';
import { registerHttpIngest } from './http-routes.js';
import { registerFirmwareDownload } from './firmware-download.js';
import { startEmbeddedSource, startMqttSource, type MqttSource } from './mqtt-source.js';
import { IngestPipeline } from './pipeline.js';
import { defaultIngestSettings, watchSettings } from '../model/settings.js';
import { recentRegistryEntries } from '../model/device-registry.js';
import { startRollups } from './rollups.js';
import { createReplyRecorder } from '../commands/replies.js';
import { allOffline } from '../model/commands.js';
import { registerDeviceCommandRoutes } from '../commands/http-device.js';

function createPipeline(deps: RoleDeps): IngestPipeline {
  const { config, db, log, bus } = deps;
  return new IngestPipeline(
    db,
    bus,
    log,
    defaultIngestSettings(config.MODE),
    {
      batchSize: config.BATCH_SIZE,
      writerConcurrency: db.engine === 'pglite' ? 1 : config.INGEST_WRITERS,
      flushIntervalMs: config.FLUSH_INTERVAL_MS,
      maxBacklog: config.INGEST_QUEUE_SIZE,
      authCacheTtlMs: config.AUTH_CACHE_TTL_SECONDS * 1000,
      authCacheNegativeTtlMs: config.AUTH_CACHE_NEGATIVE_TTL_SECONDS * 1000,
      authCacheMaxSize: config.AUTH_CACHE_MAX_SIZE,
      maxClockSkewSeconds: config.MAX_CLOCK_SKEW_SECONDS,
      maxTextLength: config.TEXT_METRIC_MAX_LENGTH,
    },
    deps.metrics,
  );
}

export async function start(deps: RoleDeps): Promise<RunningRole> {
  const { config, db, log, bus } = deps;
  const defaults = defaultIngestSettings(config.MODE);
  const pipeline = createPipeline(deps);
  pipeline.cache.preload(await db.withService((tx) => recentRegistryEntries(tx, config.AUTH_CACHE_MAX_SIZE)));
  const settings = await watchSettings(db, defaults, config.SETTINGS_POLL_SECONDS * 1000, log, (next) =>
    pipeline.applySettings(next),
  );
  const unsubscribers = [
    bus.subscribe('device.changed', ({ tenant_id, device_id, labels_only }) => {
      pipeline.forgetDevice(tenant_id, device_id);
      // A rotated or revoked device logs in again, with what is valid now.
      if (!labels_only) deps.embeddedBroker?.disconnectDevice(tenant_id, device_id);
    }),
    // A revocation may have gone by while the bus was away: the next message of every device asks again.
    bus.onLiveGap(() => pipeline.cache.clear()),
  ];
  // Devices' replies to commands (ADR 027) are recorded as they arrive, before they are acknowledged.
  const recordReply = createReplyRecorder(db, bus, log);
  pipeline.onReply = recordReply;
  // This process's broker has just started: nobody is connected to it yet.
  if (deps.embeddedBroker) await db.withService((tx) => allOffline(tx));
  const stopGone = deps.embeddedBroker?.onDeviceGone((tenant_id, device_id) => {
    void recordReply({ tenant_id, device_id }, { type: 'commands_offline' }).catch((error: unknown) =>
      log.warn({ err: error, tenant_id, device_id }, 'could not record a device going away'),
    );
  });
  if (stopGone) unsubscribers.push(stopGone);
  registerDeviceCommandRoutes(deps.http.app, {
    db,
    bus,
    pipeline,
    recordReply,
    maxInFlight: config.COMMAND_MAX_IN_FLIGHT,
    signing: { secrets: deps.secrets, ttlSeconds: config.FIRMWARE_URL_TTL_SECONDS, publicUrl: config.PUBLIC_URL },
  });
  registerHttpIngest(deps.http.app, {
    pipeline,
    singleBodyLimit: config.HTTP_INGEST_MAX_BODY_BYTES,
    batchBodyLimit: config.HTTP_INGEST_MAX_BATCH_BYTES,
  });
  registerFirmwareDownload(deps.http.app, { db, secrets: deps.secrets });

  const rollups = startRollups(db, log, deps.metrics, {
    intervalSeconds: config.ROLLUP_INTERVAL_SECONDS,
    lagSeconds: config.ROLLUP_LAG_SECONDS,
    sliceSeconds: config.ROLLUP_SLICE_SECONDS,
  });

  let mqttSource: MqttSource | undefined;
  if (config.MQTT_URL) {
    mqttSource = await startMqttSource({
      ...(await externalBroker(deps)),
      sharedGroup: config.MQTT_SHARED_GROUP,
      clientId: config.MQTT_CLIENT_ID ?? defaultClientId(),
      pipeline,
      log,
    });
  } else if (deps.embeddedBroker) {
    mqttSource = startEmbeddedSource(deps.embeddedBroker, pipeline, log);
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
      rollups: rollups.health(),
    }),
    async stop() {
      for (const unsubscribe of unsubscribers) unsubscribe();
      settings.stop();
      await mqttSource?.stop();
      await pipeline.stop();
      await rollups.stop();
    },
  };
}

export const defaultClientId = () => `pulse-ingest-${hostname()}`;

/**
 * Empties the persistent session `clientId` left on the broker (a stopped or dead ingest instance) and
 * takes it out of the shared group: unsubscribes, so the broker routes nothing new to it, stores what the
 * session still held, and when nothing has come for `quietMs`, ends the session. Returns how many
 * messages it took.
 */
export async function drain(deps: RoleDeps, clientId: string, quietMs = 2000): Promise<number> {
  const { config, log } = deps;
  if (!config.MQTT_URL) throw new Error('pulse ingest drain works on an external broker: set MQTT_URL');
  const pipeline = createPipeline(deps);
  // The runtime settings in force (rate limits above all), as a running instance would apply them.
  const settings = await watchSettings(
    deps.db,
    defaultIngestSettings(config.MODE),
    config.SETTINGS_POLL_SECONDS * 1000,
    log,
    (next) => pipeline.applySettings(next),
  );
  const broker = await externalBroker(deps);
  const source = await startMqttSource({
    ...broker,
    sharedGroup: config.MQTT_SHARED_GROUP,
    clientId,
    leave: true,
    pipeline,
    log,
  });
  for (;;) {
    const idle = source.idle!();
    if (idle.inProgress === 0 && idle.sinceLastMs >= quietMs) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await source.stop();
  settings.stop();
  await pipeline.stop();
  // A clean session replaces the persistent one: the broker forgets the client id altogether.
  const forget = await startMqttSource({
    ...broker,
    clientId,
    leave: true,
    clean: true,
    pipeline,
    log,
  });
  await forget.stop();
  return pipeline.counters.received;
}

/** How to reach the external broker MQTT_URL names, as Pulse's service client. */
async function externalBroker({ config, serviceMqttUrl }: RoleDeps) {
  const file = config.MQTT_CA_FILE;
  let ca: Buffer | undefined;
  try {
    ca = file ? await readFile(file) : undefined;
  } catch (error) {
    throw new Error(`MQTT_CA_FILE: cannot read ${file} (${(error as Error).message})`);
  }
  return {
    url: serviceMqttUrl ?? config.MQTT_URL!,
    ca,
    maxPacketBytes: config.MQTT_MAX_PACKET_BYTES,
    // The broker lets a device publish only to its own topics (ADR 020): the topic names the sender.
    topicAuthenticated: config.MQTT_BROKER_AUTH === 'dynsec',
  };
}
