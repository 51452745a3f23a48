// Prometheus metrics of the ingest role, on the process-wide registry served at GET /metrics.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  received: Counter<'source'>;
  accepted: Counter<'source'>;
  rejected: Counter<'reason'>;
  written: Counter;
  batchSeconds: Histogram;
  queueDepth: Gauge;
  mqttProtocolErrors: Counter;
}

export function createIngestMetrics(registry: Registry, queueDepth: () => number): IngestMetrics {
  return {
    received: new Counter({
      name: 'pulse_ingest_messages_received_total',
      help: 'Device messages received',
      labelNames: ['source'],
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'pulse_ingest_messages_accepted_total',
      help: 'Device messages accepted for storage',
      labelNames: ['source'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'pulse_ingest_messages_rejected_total',
      help: 'Device messages rejected, by quarantine reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    written: new Counter({
      name: 'pulse_ingest_rows_written_total',
      help: 'Telemetry rows written',
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'pulse_ingest_batch_write_seconds',
      help: 'Time to write one telemetry batch, retries included',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    mqttProtocolErrors: new Counter({
      name: 'pulse_ingest_mqtt_protocol_errors_total',
      help: 'Connections to the external MQTT broker closed (and made again) because it broke the protocol',
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'pulse_ingest_queue_depth',
      help: 'Accepted messages not yet written',
      registers: [registry],
      collect() {
        this.set(queueDepth());
      },
    }),
  };
}
