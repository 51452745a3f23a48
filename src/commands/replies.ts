// What a device's reply does (MQTT through ingest, or HTTP): one short transaction, then the bus hears of it
// — after the commit, so whoever reacts reads what was written.
import type { Bus } from '../bus/index.js';
import type { Database } from '../db/database.js';
import * as commands from '../model/commands.js';
import type { Reply } from '../model/command-protocol.js';

export function createReplyRecorder(db: Database, bus: Bus) {
  return async function record(device: commands.DeviceKey, reply: Reply): Promise<void> {
    switch (reply.type) {
      case 'commands_ready':
      case 'commands_offline': {
        const online = reply.type === 'commands_ready';
        if (await db.withService((tx) => commands.setOnline(tx, device, online)))
          bus.publish('device.presence', { ...device, online });
        return;
      }
      case 'config_reported':
        await db.withService((tx) => commands.recordReported(tx, device, reply));
        bus.publish('config.changed', [device]);
        return;
      case 'command_ack':
        return announce(bus, await db.withService((tx) => commands.recordAck(tx, device, reply.id)));
      case 'command_progress':
        return announce(bus, await db.withService((tx) => commands.recordProgress(tx, device, reply)));
      case 'command_result':
        return announce(bus, await db.withService((tx) => commands.recordResult(tx, device, reply)));
    }
  };
}

/** A reply that changed nothing (a repeat, a late answer) says nothing either. */
function announce(bus: Bus, change: commands.CommandChange | null): void {
  if (change) bus.publish('commands.changed', [change]);
}
