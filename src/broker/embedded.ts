// The embedded MQTT broker (aedes, MQTT 3.1.1) used when MQTT_URL is unset. If the wanted port is taken —
// say by a Mosquitto already running — it says so once and listens on a free port instead.
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { listenWithFallback } from '../lib/listen.js';

export interface EmbeddedBroker {
  readonly port: number;
  readonly url: string;
  readonly broker: Aedes;
  clientCount(): number;
  stop(): Promise<void>;
}

export async function startEmbeddedBroker(options: {
  host: string;
  port: number;
  log: Logger;
}): Promise<EmbeddedBroker> {
  // Deliveries in flight at once; ingest holds a QoS 1 delivery until its row is written.
  const broker = await Aedes.createBroker({ concurrency: 1000 });
  const server: Server = createServer(broker.handle);
  const port = await listenWithFallback(server, options.host, options.port, (taken) =>
    options.log.warn(
      `MQTT port ${taken} is in use; the embedded broker listens on a free port instead (set MQTT_PORT, or MQTT_URL to use the broker that is there)`,
    ),
  );
  const host = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  return {
    port,
    url: `mqtt://${host}:${port}`,
    broker,
    clientCount: () => broker.connectedClients,
    stop: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
