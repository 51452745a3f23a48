// Keeps the broker's device logins in step with the registry (MQTT_BROKER_AUTH=dynsec): at start a full
// reconcile (devices revoked or re-registered while Pulse was down), then every device.changed — from
// any process, after its commit — enables or disables that device's login. Passwords are set where tokens
// are made (activation, rotation), since only there is the token in clear. On the embedded broker, which
// checks logins itself, the alert readers' logins are checked against the database here too.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Bus } from '../bus/index.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { keysMatch, sha256Hex } from '../lib/credentials.js';
import * as registry from '../model/device-registry.js';
import { readerPasswordHash } from '../model/mqtt-readers.js';
import { Dynsec, reconcileActions, type DeviceLogins } from '../broker/dynsec.js';
import type { EmbeddedBroker } from '../broker/embedded.js';
import type { RoleName } from '../roles.js';

/**
 * With MQTT_BROKER_AUTH=dynsec, a process that makes tokens (provision, api) keeps the broker's device
 * logins: passwords where tokens are made, enabled/disabled on every device.changed, and (provision) a
 * full reconcile at start. Ingest opens it too, for the service login its subscription uses: whichever
 * process starts first creates it.
 */
export async function startBrokerLogins(
  config: Config,
  roles: readonly RoleName[],
  deps: { bus: Bus; db: Database; log: Logger },
) {
  if (config.MQTT_BROKER_AUTH !== 'dynsec' || !config.MQTT_URL) return undefined;
  if (!roles.some((role) => role === 'provision' || role === 'api' || role === 'ingest')) return undefined;
  const ca = config.MQTT_CA_FILE ? await readFile(config.MQTT_CA_FILE) : undefined;
  const dynsec = await Dynsec.open(config.MQTT_URL, deps.log, ca);
  const sync = await startLoginSync({ logins: dynsec, ...deps, reconcile: roles.includes('provision') });
  return {
    logins: dynsec,
    close: async () => {
      await sync.stop();
      await dynsec.close();
    },
  };
}

export interface LoginSyncOptions {
  logins: DeviceLogins;
  bus: Bus;
  db: Database;
  log: Logger;
  /** Reconcile the whole registry now (the process running provision does). */
  reconcile: boolean;
}

export async function startLoginSync({ logins, bus, db, log, reconcile }: LoginSyncOptions) {
  const unsubscribe = bus.subscribe('device.changed', async ({ tenant_id, device_id, labels_only }) => {
    if (labels_only) return;
    try {
      const status = await db.withService((tx) => registry.registryStatus(tx, tenant_id, device_id));
      await logins.setEnabled(tenant_id, device_id, status === 'ACTIVE');
    } catch (error) {
      log.error({ err: error, tenant_id, device_id }, 'could not update the device login on the broker');
    }
  });
  const resync = () =>
    void reconcileLogins(logins, db, log).catch((error: unknown) =>
      log.error({ err: error }, 'could not reconcile broker logins'),
    );
  // Changes may have been missed while the bus was away: go over them all again.
  const stopGap = reconcile ? bus.onLiveGap(resync) : () => undefined;
  if (reconcile) await reconcileLogins(logins, db, log);
  return {
    stop: async () => {
      unsubscribe();
      stopGap();
    },
  };
}

export async function reconcileLogins(logins: DeviceLogins, db: Database, log: Logger) {
  const devices = await db.withService((tx) => registry.listRegistered(tx, { limit: Number.MAX_SAFE_INTEGER }));
  const actions = reconcileActions(devices, await logins.list());
  const split = (username: string) => username.split('/') as [string, string];
  for (const username of actions.disable) await logins.setEnabled(...split(username), false);
  for (const username of actions.enable) await logins.setEnabled(...split(username), true);
  await logins.bindClientIds(actions.unbound);
  if (actions.withoutLogin.length > 0) {
    log.warn(
      { count: actions.withoutLogin.length, devices: actions.withoutLogin.slice(0, 10) },
      'ACTIVE devices without a broker login (activated before MQTT_BROKER_AUTH=dynsec): rotate their tokens to give them one',
    );
  }
  log.info(
    { disabled: actions.disable.length, enabled: actions.enable.length, client_ids_bound: actions.unbound.length },
    'broker logins reconciled',
  );
  return actions;
}

/**
 * The embedded broker's alert readers: a login is checked against the stored hash of the password a
 * customer admin was shown; a reader removed (in any process) is put out at once.
 */
export function checkAlertReaders(broker: EmbeddedBroker, { db, bus }: { db: Database; bus: Bus }) {
  broker.checkReadersWith(async (tenantId, name, password) => {
    const hash = await db.withService((tx) => readerPasswordHash(tx, tenantId, name));
    return hash !== null && keysMatch(sha256Hex(password), hash);
  });
  const unsubscribe = bus.subscribe(
    'reader.removed',
    ({ tenant_id, name }) => void broker.disconnectReader(tenant_id, name),
  );
  return { stop: async () => unsubscribe() };
}
