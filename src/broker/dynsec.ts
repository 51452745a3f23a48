// Device logins on an external Mosquitto (MQTT_BROKER_AUTH=dynsec, ADR 020): Pulse keeps Mosquitto's
// dynamic-security plugin in step with the registry through $CONTROL/dynamic-security/v1, logged in with
// the admin credentials of MQTT_URL. Each device is one client `<tenant>/<device>` whose password is its
// provision token and whose role lets it publish only to its own topics; Pulse's own clients (ingest's
// subscription, the MQTT integration) log in as `pulse-service`.
import { createHmac, randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

const CONTROL = '$CONTROL/dynamic-security/v1';
const TIMEOUT_MS = 10_000;
export const SERVICE_USERNAME = 'pulse-service';
const SERVICE_ROLE = 'pulse-service';

export interface Acl {
  acltype: 'publishClientSend' | 'publishClientReceive' | 'subscribePattern' | 'subscribeLiteral';
  topic: string;
  allow: boolean;
  priority?: number;
}

export const deviceUsername = (tenantId: string, deviceId: string) => `${tenantId}/${deviceId}`;
const deviceRole = (tenantId: string, deviceId: string) => `pulse-device:${tenantId}/${deviceId}`;

/** A device may publish to its own topics and subscribe to its own commands subtree, nothing else. */
export function deviceAcls(tenantId: string, deviceId: string): Acl[] {
  const own = `tenant/${tenantId}/device/${deviceId}`;
  return [
    { acltype: 'publishClientSend', topic: `${own}/+`, allow: true },
    { acltype: 'subscribePattern', topic: `${own}/commands/#`, allow: true },
  ];
}

/** Ingest reads every device topic (shared or not); the MQTT integration publishes alerts; the dispatcher commands. */
export function serviceAcls(): Acl[] {
  return [
    { acltype: 'subscribePattern', topic: 'tenant/+/device/+/+', allow: true },
    { acltype: 'subscribePattern', topic: '$share/+/tenant/+/device/+/+', allow: true },
    { acltype: 'publishClientSend', topic: 'alerts/#', allow: true },
    // Commands and desired configuration to devices (ADR 027).
    { acltype: 'publishClientSend', topic: 'tenant/+/device/+/commands/#', allow: true },
  ];
}

/**
 * The service login's password, derived from the admin password: every Pulse process with the same
 * MQTT_URL computes the same one, so no process's start locks another one out.
 */
export function servicePassword(adminPassword: string): string {
  return createHmac('sha256', adminPassword).update('pulse-service-login').digest('base64url');
}

/** MQTT_URL as Pulse's own clients use it: the service login instead of the admin's. */
export function serviceUrl(adminUrl: string): string {
  const url = new URL(adminUrl);
  const password = servicePassword(decodeURIComponent(url.password));
  url.username = SERVICE_USERNAME;
  url.password = password;
  return url.toString();
}

/** The username and password MQTT_URL must carry for dynsec, or what is missing. */
export function adminCredentials(adminUrl: string): { username: string; password: string } | string {
  const url = new URL(adminUrl);
  if (!url.username || !url.password)
    return 'MQTT_BROKER_AUTH=dynsec needs the dynamic-security admin in MQTT_URL: mqtt://<admin>:<password>@host:port';
  return { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
}

/** An error the plugin answered that leaves things as wanted (creating what exists, disabling what is gone). */
const harmless = (error: string) => /already exists|not found/i.test(error);

interface Command {
  command: string;
  [key: string]: unknown;
}
interface Response {
  command: string;
  error?: string;
  data?: Record<string, unknown>;
  correlationData?: string;
}

/** Logins Pulse keeps on a broker it manages: devices' (the model's BrokerPasswords) and tenants' alert readers. */
export interface ManagedLogins {
  /** Where a device's new token becomes its password. */
  setPassword(tenantId: string, deviceId: string, token: string): Promise<void>;
  /** Creates an alert reader `<tenant>/alerts/<name>` allowed to subscribe to alerts/<tenant>/# only. */
  setReader(tenantId: string, name: string, password: string): Promise<void>;
  removeReader(tenantId: string, name: string): Promise<void>;
}

export interface DeviceLogins extends ManagedLogins {
  /** Creates or updates the device's login with this token as its password, enabled (setPassword). */
  /** Enables or disables an existing login (a device re-registered or revoked). */
  setEnabled(tenantId: string, deviceId: string, enabled: boolean): Promise<void>;
  /** username → whether it is disabled and the client id it is bound to: every device and reader login. */
  list(): Promise<Map<string, DeviceLogin>>;
  /** Binds each login to its own user name as client id (logins made before client ids were bound). */
  bindClientIds(usernames: string[]): Promise<void>;
  close(): Promise<void>;
}

/** For a broker Pulse does not manage logins on (MQTT_BROKER_AUTH=none; the embedded one checks them itself). */
export const UNMANAGED_LOGINS: ManagedLogins = {
  setPassword: async () => undefined,
  setReader: async () => undefined,
  removeReader: async () => undefined,
};

/** `<tenant>/<device>`: a device's login (a reader's is `<tenant>/alerts/<name>`). */
const isDeviceUsername = (username: string) => username.split('/').length === 2;

export const readerUsername = (tenantId: string, name: string) => `${tenantId}/alerts/${name}`;

export interface DeviceLogin {
  disabled: boolean;
  clientId: string | undefined;
}

export class Dynsec implements DeviceLogins {
  private readonly pending = new Map<string, { resolve: (r: Response) => void; reject: (e: Error) => void }>();

  private constructor(private readonly client: MqttClient) {
    client.on('message', (_topic, payload) => {
      let body: { responses?: Response[] };
      try {
        body = JSON.parse(payload.toString()) as { responses?: Response[] };
      } catch {
        return;
      }
      for (const response of body.responses ?? []) {
        const waiting = response.correlationData && this.pending.get(response.correlationData);
        if (!waiting) continue;
        this.pending.delete(response.correlationData!);
        waiting.resolve(response);
      }
    });
  }

  /** Logs in as the plugin's admin and makes sure the service login and role exist. */
  static async open(adminUrl: string, log: Logger, ca?: Buffer): Promise<Dynsec> {
    const credentials = adminCredentials(adminUrl);
    if (typeof credentials === 'string') throw new Error(credentials);
    const client = await mqtt.connectAsync(adminUrl, {
      clientId: `pulse-dynsec-${randomUUID().slice(0, 8)}`,
      clean: true,
      reconnectPeriod: 2000,
      ...(ca && { ca }),
    });
    await client.subscribeAsync(`${CONTROL}/response`, { qos: 1 });
    const dynsec = new Dynsec(client);
    await dynsec.ensureService(credentials.password);
    log.info({ service_login: SERVICE_USERNAME }, 'broker logins kept in Mosquitto dynamic security');
    return dynsec;
  }

  /** Sends commands in one request; throws on the first error that is not harmless. */
  async run(commands: Command[]): Promise<Response[]> {
    const tagged = commands.map((c) => ({ ...c, correlationData: randomUUID() }));
    const answers = tagged.map(
      (c) =>
        new Promise<Response>((resolve, reject) => {
          this.pending.set(c.correlationData, { resolve, reject });
        }),
    );
    const timer = setTimeout(() => {
      for (const c of tagged) {
        this.pending.get(c.correlationData)?.reject(new Error(`the broker did not answer ${c.command} in 10 s`));
        this.pending.delete(c.correlationData);
      }
    }, TIMEOUT_MS);
    try {
      await this.client.publishAsync(CONTROL, JSON.stringify({ commands: tagged }), { qos: 1 });
      const responses = await Promise.all(answers);
      const failed = responses.find((r) => r.error && !harmless(r.error));
      if (failed) throw new Error(`broker refused ${failed.command}: ${failed.error}`);
      return responses;
    } finally {
      clearTimeout(timer);
      // Answered, timed out, or never sent (the publish failed): nothing of this request waits any more.
      for (const c of tagged) this.pending.delete(c.correlationData);
    }
  }

  private async ensureService(adminPassword: string) {
    await this.run([
      { command: 'createRole', rolename: SERVICE_ROLE, acls: serviceAcls() },
      ...serviceAcls().map((acl) => ({ command: 'addRoleACL', rolename: SERVICE_ROLE, ...acl })),
      {
        command: 'createClient',
        username: SERVICE_USERNAME,
        password: servicePassword(adminPassword),
        roles: [{ rolename: SERVICE_ROLE }],
      },
    ]);
    // The client may have existed with another password (a changed admin password).
    await this.run([
      { command: 'setClientPassword', username: SERVICE_USERNAME, password: servicePassword(adminPassword) },
      { command: 'enableClient', username: SERVICE_USERNAME },
    ]);
  }

  async setPassword(tenantId: string, deviceId: string, token: string) {
    const username = deviceUsername(tenantId, deviceId);
    const rolename = deviceRole(tenantId, deviceId);
    // The client id is the login's own name: nobody else can connect with it and put the device out.
    await this.run([
      { command: 'createRole', rolename, acls: deviceAcls(tenantId, deviceId) },
      { command: 'createClient', username, clientid: username, password: token, roles: [{ rolename }] },
    ]);
    // If the client existed (created with its role), createClient changed nothing: set what it must be.
    await this.run([
      { command: 'setClientPassword', username, password: token },
      { command: 'setClientId', username, clientid: username },
      { command: 'enableClient', username },
    ]);
  }

  async setReader(tenantId: string, name: string, password: string) {
    const rolename = `pulse-alerts:${tenantId}`;
    await this.run([
      {
        command: 'createRole',
        rolename,
        acls: [{ acltype: 'subscribePattern', topic: `alerts/${tenantId}/#`, allow: true }],
      },
      {
        command: 'createClient',
        username: readerUsername(tenantId, name),
        clientid: readerUsername(tenantId, name),
        password,
        roles: [{ rolename }],
      },
    ]);
  }

  async removeReader(tenantId: string, name: string) {
    await this.run([{ command: 'deleteClient', username: readerUsername(tenantId, name) }]);
  }

  async setEnabled(tenantId: string, deviceId: string, enabled: boolean) {
    const username = deviceUsername(tenantId, deviceId);
    await this.run([{ command: enabled ? 'enableClient' : 'disableClient', username }]);
  }

  async list() {
    const [response] = await this.run([{ command: 'listClients', verbose: true, count: -1, offset: 0 }]);
    const clients = (response?.data?.clients ?? []) as { username: string; disabled?: boolean; clientid?: string }[];
    return new Map(
      clients
        .filter((c) => isDeviceUsername(c.username) || c.username.split('/')[1] === 'alerts')
        .map((c) => [c.username, { disabled: c.disabled === true, clientId: c.clientid }] as const),
    );
  }

  async bindClientIds(usernames: string[]) {
    for (let start = 0; start < usernames.length; start += 100) {
      await this.run(
        usernames
          .slice(start, start + 100)
          .map((username) => ({ command: 'setClientId', username, clientid: username })),
      );
    }
  }

  async close() {
    for (const waiting of this.pending.values()) waiting.reject(new Error('closed'));
    this.pending.clear();
    await this.client.endAsync();
  }
}

export interface RegisteredLogin {
  tenant_id: string;
  device_id: string;
  status: string;
  token_set: boolean;
}

/**
 * What a reconcile changes: logins to disable (device revoked or gone) or enable (device ACTIVE again),
 * device and reader logins not yet bound to their own client id, and ACTIVE devices with a token but no login — their token exists only on the device (Pulse keeps its
 * hash), so only a rotation can give them one.
 */
export function reconcileActions(registry: RegisteredLogin[], logins: Map<string, DeviceLogin>) {
  const active = new Set<string>();
  const withoutLogin: string[] = [];
  for (const device of registry) {
    const username = deviceUsername(device.tenant_id, device.device_id);
    if (device.status !== 'ACTIVE') continue;
    active.add(username);
    if (device.token_set && !logins.has(username)) withoutLogin.push(username);
  }
  const disable: string[] = [];
  const enable: string[] = [];
  const unbound: string[] = [];
  for (const [username, { disabled, clientId }] of logins) {
    if (clientId !== username) unbound.push(username);
    if (!isDeviceUsername(username)) continue; // a reader: removed with its record, never disabled
    if (!active.has(username) && !disabled) disable.push(username);
    if (active.has(username) && disabled) enable.push(username);
  }
  return { disable, enable, withoutLogin, unbound };
}
