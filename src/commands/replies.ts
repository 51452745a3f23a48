// What a device's reply does (MQTT through ingest, or HTTP), then the bus hears of it — after the commit,
// so whoever reacts reads what was written. Replies arriving in the same event-loop turn share one
// transaction (a fleet job's answers come in bursts of thousands); should that transaction fail, each is
// tried alone, so one bad reply never takes the others down with it.
import type { Logger } from 'pino';
import type { Bus } from '../bus/index.js';
import type { CommandChange, DeviceKey } from '../contracts/messages.js';
import type { Database, ServiceTx } from '../db/database.js';
import * as commands from '../model/commands.js';
import { setReportedAttributes } from '../model/device-registry.js';
import type { Reply } from '../model/command-protocol.js';

/** Replies per transaction at most: a burst is recorded in several, each acknowledged when it commits. */
const MAX_BATCH = 500;

type Pending = { device: DeviceKey; reply: Reply; done: (error?: unknown) => void };
type Effect = {
  presence?: DeviceKey & { online: boolean };
  config?: DeviceKey;
  change?: CommandChange;
  labels?: DeviceKey;
};

/** One reply's change, inside the caller's transaction. */
async function apply(tx: ServiceTx, device: DeviceKey, reply: Reply): Promise<Effect> {
  switch (reply.type) {
    case 'commands_ready':
    case 'commands_offline': {
      const online = reply.type === 'commands_ready';
      return (await commands.setOnline(tx, device, online)) ? { presence: { ...device, online } } : {};
    }
    case 'config_reported':
      await commands.recordReported(tx, device, reply);
      return { config: device };
    case 'command_ack':
      return { change: (await commands.recordAck(tx, device, reply.id)) ?? undefined };
    case 'command_progress':
      return { change: (await commands.recordProgress(tx, device, reply)) ?? undefined };
    case 'command_result':
      return { change: (await commands.recordResult(tx, device, reply)) ?? undefined };
    case 'attributes_reported':
      return (await setReportedAttributes(tx, device, reply.attributes)) ? { labels: device } : {};
  }
}

export function createReplyRecorder(db: Database, bus: Bus, log?: Logger) {
  let pending: Pending[] = [];
  const takeBatch = () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    void flush(batch);
  };

  function announce(effects: Effect[]): void {
    // A reply that changed nothing (a repeat, a late answer) says nothing either.
    for (const { presence } of effects) if (presence) bus.publish('device.presence', presence);
    // Selectors (rules' scopes) read the device's attributes again; its connection stays.
    for (const { labels } of effects) if (labels) bus.publish('device.changed', { ...labels, labels_only: true });
    const configs = effects.flatMap((effect) => (effect.config ? [effect.config] : []));
    if (configs.length > 0) bus.publish('config.changed', configs);
    const changes = effects.flatMap((effect) => (effect.change ? [effect.change] : []));
    if (changes.length > 0) bus.publish('commands.changed', changes);
  }

  async function flush(batch: Pending[]): Promise<void> {
    try {
      const effects = await db.withService(async (tx) => {
        const done: Effect[] = [];
        for (const { device, reply } of batch) done.push(await apply(tx, device, reply));
        return done;
      });
      announce(effects);
      for (const entry of batch) entry.done();
    } catch (error) {
      if (batch.length === 1) return batch[0]!.done(error);
      log?.warn({ err: error, replies: batch.length }, 'a batch of device replies failed; recording them one by one');
      await Promise.all(batch.map((entry) => flush([entry])));
    }
  }

  /** Resolves once the reply is recorded (a QoS 1 reply is acknowledged only then). */
  return function record(device: DeviceKey, reply: Reply): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: unknown) => (error === undefined ? resolve() : reject(error as Error));
      const size = pending.push({ device, reply, done });
      if (size === MAX_BATCH) takeBatch();
      else if (size === 1) setImmediate(takeBatch);
    });
  };
}
