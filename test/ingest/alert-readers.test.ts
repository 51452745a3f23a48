// Alert topics on the embedded broker (issue 16): only Pulse publishes to alerts/…, and only the alert
// readers a tenant's admin created may subscribe — to alerts/<own tenant>/# alone. Anonymous clients
// (DEV) and devices read no alerts. Readers are managed under row-level security; a removed reader is
// put out at once. On both engines.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { callerFor, tokenFor } from '../helpers/identity.js';
import { provisionDevices } from '../helpers/provision.js';
import { startTestPlatform, TEST_ADMIN_KEY, type TestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

describe.each<Engine>(['pglite', 'postgres'])('alert readers on %s', (engine) => {
  let pulse: TestPlatform;
  let deviceToken: string;
  const tokens: Record<string, string> = {};
  const clients: mqtt.MqttClient[] = [];
  const call = callerFor(() => pulse, tokens);
  const connect = async (options: mqtt.IClientOptions = {}) => {
    const client = await mqtt.connectAsync(pulse.mqttUrl!, {
      reconnectPeriod: 0,
      clientId: `readers-${Math.random().toString(36).slice(2)}`,
      ...options,
    });
    clients.push(client);
    return client;
  };
  /** Publishes as Pulse's MQTT integration does: logged in as the service. */
  const publishAlert = async (topic: string) => {
    const service = await mqtt.connectAsync(pulse.deps.serviceMqttUrl!, { reconnectPeriod: 0 });
    await service.publishAsync(topic, '{"event":"OPEN"}', { qos: 1 });
    await service.endAsync();
  };

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000' }, undefined, { embeddedBroker: true });
    const devices = await provisionDevices(pulse.base, TEST_ADMIN_KEY, [
      { tenant_id: 'rd-a', device_id: 'dev-1', site_id: 's' },
      { tenant_id: 'rd-b', device_id: 'dev-1', site_id: 's' },
    ]);
    deviceToken = devices.get('rd-a/dev-1')!;
    tokens.adminA = await tokenFor(pulse, { username: 'rd-admin-a', role: 'customer_admin', tenantId: 'rd-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'rd-viewer-a', role: 'customer_viewer', tenantId: 'rd-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'rd-admin-b', role: 'customer_admin', tenantId: 'rd-b' });
  }, 90_000);
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
    await pulse?.close();
  });

  it('lets no anonymous client or device read or publish alerts', async () => {
    const anonymous = await connect();
    for (const filter of ['alerts/#', 'alerts/rd-a/#', '+/rd-a/#'])
      await expect(anonymous.subscribeAsync(filter), filter).rejects.toThrow(/Subscribe error/);
    await anonymous.subscribeAsync('weather/#'); // unrelated topics stay open in DEV
    const device = await connect({ username: 'rd-a/dev-1', password: deviceToken });
    await expect(device.subscribeAsync('alerts/rd-a/#')).rejects.toThrow(/Subscribe error/);
    // A forged alert closes the publisher's connection.
    const closed = new Promise<void>((resolve) => anonymous.once('close', () => resolve()));
    anonymous.publish('alerts/rd-a/s/THRESHOLD', '{"event":"OPEN","forged":true}', { qos: 1 });
    await closed;
  });

  it('gives a tenant admin reader logins, shown once, that read only its own alerts', async () => {
    const created = await call('adminA', '/customer/mqtt-readers', 'POST', { name: 'scada' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'scada',
      username: 'rd-a/alerts/scada',
      topic_filter: 'alerts/rd-a/#',
      created_by: expect.any(String),
    });
    expect(created.body.password).toMatch(/^rdr-/);
    const listed = await call('viewerA', '/customer/mqtt-readers');
    expect(listed.body.readers.map((r: { name: string }) => r.name)).toEqual(['scada']);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.password);

    const reader = await connect({ username: created.body.username, password: created.body.password });
    for (const filter of ['alerts/#', 'alerts/rd-b/#', '#', 'tenant/rd-a/device/dev-1/+'])
      await expect(reader.subscribeAsync(filter), filter).rejects.toThrow(/Subscribe error/);
    await reader.subscribeAsync('alerts/rd-a/#', { qos: 1 });
    const seen: string[] = [];
    reader.on('message', (topic) => seen.push(topic));
    await publishAlert('alerts/rd-b/s/NO_HEARTBEAT');
    await publishAlert('alerts/rd-a/s/NO_HEARTBEAT');
    await waitFor(() => seen.length > 0, 5000);
    expect(seen).toEqual(['alerts/rd-a/s/NO_HEARTBEAT']);

    await expect(connect({ username: created.body.username, password: 'rdr-guess' })).rejects.toThrow(
      /Bad username or password/,
    );
  });

  it('keeps readers to their tenant and their admins: names checked, duplicates refused, viewers read only', async () => {
    expect((await call('adminB', '/customer/mqtt-readers')).body.readers).toEqual([]);
    expect((await call('adminB', '/customer/mqtt-readers/scada', 'DELETE')).status).toBe(404);
    expect((await call('viewerA', '/customer/mqtt-readers', 'POST', { name: 'v' })).status).toBe(403);
    expect((await call('viewerA', '/customer/mqtt-readers/scada', 'DELETE')).status).toBe(403);
    expect((await call('adminA', '/customer/mqtt-readers', 'POST', { name: 'scada' })).status).toBe(409);
    expect((await call('adminA', '/customer/mqtt-readers', 'POST', { name: 'a/b' })).status).toBe(422);
    // B may use the same name: its reader is B's.
    const own = await call('adminB', '/customer/mqtt-readers', 'POST', { name: 'scada' });
    expect(own.body.username).toBe('rd-b/alerts/scada');
  });

  it('puts a removed reader out and refuses its login from then on', async () => {
    const created = await call('adminA', '/customer/mqtt-readers', 'POST', { name: 'phone' });
    const reader = await connect({ username: created.body.username, password: created.body.password });
    const closed = new Promise<void>((resolve) => reader.once('close', () => resolve()));
    expect((await call('adminA', '/customer/mqtt-readers/phone', 'DELETE')).status).toBe(204);
    await closed;
    await expect(connect({ username: created.body.username, password: created.body.password })).rejects.toThrow(
      /Bad username or password/,
    );
  });
});
