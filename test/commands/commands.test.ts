// Commands, desired configuration and fleet jobs (issue 30) end to end, on both engines with the embedded
// broker: devices written only from the documented protocol (docs/commands.md) over MQTT and HTTP. An
// offline device's commands stay QUEUED and arrive when it connects, in order, a bounded number at a
// time; two-way calls answer; cancel and expiry hold; jobs respect their pace and abort threshold; another
// tenant sees and touches nothing.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { TestDevice, type Answer } from '../helpers/command-device.js';
import { bearer, callerFor, tokenFor } from '../helpers/identity.js';
import { pollNow, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { provisionDevices } from '../helpers/provision.js';
import { waitFor } from '../helpers/wait.js';

const TENANT = 'cmd-a';
const OTHER = 'cmd-b';

describe.each<Engine>(['pglite', 'postgres'])('commands to devices on %s', (engine) => {
  let pulse: TestPlatform;
  let tokens: Map<string, string>;
  const users: Record<string, string> = {};
  const call = callerFor(() => pulse, users);
  const devices: TestDevice[] = [];
  const device = (id: string, answer?: Answer) => {
    const made = new TestDevice(pulse.mqttUrl!, TENANT, id, tokens.get(`${TENANT}/${id}`)!, answer);
    devices.push(made);
    return made;
  };
  const command = async (commandId: string) => (await call('admin', `/customer/commands/${commandId}`)).body;
  const send = (deviceId: string, body: object, query = '') =>
    call('admin', `/customer/devices/${deviceId}/commands${query}`, 'POST', body);

  beforeAll(async () => {
    pulse = await startTestPlatform(
      engine,
      { COMMAND_SWEEP_SECONDS: '1', COMMAND_MAX_IN_FLIGHT: '2', API_RATE_LIMIT: '100000' },
      undefined,
      { embeddedBroker: true },
    );
    for (const tenant of [TENANT, OTHER])
      await pulse.call('/operator/tenants', { json: { tenant_id: tenant, name: tenant } }).catch(() => undefined);
    const plan = [
      'sleepy',
      'busy',
      'http-1',
      'ops',
      'fw-1',
      'cfg',
      ...Array.from({ length: 12 }, (_, i) => `fleet-${String(i).padStart(2, '0')}`),
    ].map((device_id) => ({ tenant_id: TENANT, device_id, site_id: device_id.startsWith('fleet') ? 'plant' : 'lab' }));
    tokens = await provisionDevices(pulse.base, 'test-admin-key-0123456789', [
      ...plan,
      { tenant_id: OTHER, device_id: 'b-1', site_id: 'lab' },
    ]);
    users.admin = await tokenFor(pulse, { username: `cmd-admin-${engine}`, role: 'customer_admin', tenantId: TENANT });
    users.viewer = await tokenFor(pulse, {
      username: `cmd-viewer-${engine}`,
      role: 'customer_viewer',
      tenantId: TENANT,
    });
    users.other = await tokenFor(pulse, { username: `cmd-other-${engine}`, role: 'customer_admin', tenantId: OTHER });
  }, 120_000);
  afterAll(async () => {
    for (const made of devices) await made.disconnect();
    await pulse?.close();
  });

  it('keeps an offline device’s commands QUEUED, then sends them in order, two at a time, as it answers', async () => {
    const first = await send('sleepy', { name: 'ping', params: { n: 1 } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ state: 'QUEUED', name: 'ping', params: { n: 1 }, sent_at: null });
    const ids = [first.body.command_id as string];
    for (const n of [2, 3]) ids.push((await send('sleepy', { name: 'ping', params: { n } })).body.command_id);
    // A sweep sends nothing to a device that never connected.
    await pollNow(pulse, 'dispatcher');
    for (const id of ids) expect((await command(id)).state).toBe('QUEUED');

    const sleepy = device('sleepy');
    await sleepy.connect();
    await waitFor(() => sleepy.commands().length === 2);
    expect(sleepy.commands().map((c) => c.id)).toEqual(ids.slice(0, 2));
    expect((await command(ids[0]!)).state).toBe('SENT');
    await sleepy.reply('command_ack', { id: ids[0] });
    await waitFor(async () => (await command(ids[0]!)).state === 'DELIVERED');
    await sleepy.reply('command_result', { id: ids[0], status: 'SUCCEEDED', result: { pong: true } });
    await waitFor(() => sleepy.commands().length === 3);
    expect(sleepy.commands()[2]!.id).toBe(ids[2]);
    const done = await command(ids[0]!);
    expect(done).toMatchObject({ state: 'SUCCEEDED', result: { pong: true } });
    expect(new Date(done.delivered_at).getTime()).toBeLessThanOrEqual(new Date(done.finished_at).getTime());

    // Gone before answering: what was SENT is QUEUED again, never DELIVERED, and sent again (same ids) on return.
    await sleepy.disconnect();
    await waitFor(async () => (await command(ids[1]!)).state === 'QUEUED');
    sleepy.received = [];
    await sleepy.connect();
    await waitFor(() => sleepy.commands().length === 2);
    expect(sleepy.commands().map((c) => c.id)).toEqual([ids[1], ids[2]]);
    expect((await command(ids[1]!)).send_count).toBe(2);
  });

  it('answers a two-way call with the device’s result, and refuses what is malformed', async () => {
    const busy = device('busy', (c) => ({ status: 'SUCCEEDED', result: { echo: c.params } }));
    await busy.connect();
    const answered = await send('busy', { name: 'echo', params: { hello: 'world' } }, '?wait=10');
    expect(answered.status).toBe(201);
    expect(answered.body).toMatchObject({ state: 'SUCCEEDED', result: { echo: { hello: 'world' } } });

    expect((await send('busy', { name: '1bad' })).status).toBe(422);
    const huge = await send('busy', { name: 'x', params: { blob: 'a'.repeat(20_000) } });
    expect(huge.status).toBe(400);
    expect(huge.body.detail).toMatch(/params is \d+ bytes of JSON, at most 16384/);
    expect((await send('busy', { name: 'firmware_update' })).body.detail).toMatch(/firmware/);
    expect((await send('nobody', { name: 'ping' })).status).toBe(404);
    // A reply that is not one is quarantined with its reason; the device's command is untouched.
    await busy.reply('command_result', { id: 'not-a-uuid', status: 'SUCCEEDED' });
    await waitFor(async () => {
      const { rows } = await pulse.db.withService((tx) =>
        tx.query(`SELECT count(*)::int AS n FROM quarantine_counters_minute WHERE reason = 'INVALID_REPLY'`),
      );
      return rows[0]!.n > 0;
    });
  });

  it('cancels a QUEUED command once, and expires one its device never came for', async () => {
    const queued = await send('sleepy-never', { name: 'ping' });
    expect(queued.status).toBe(404);
    const created = (await send('cfg', { name: 'ping' })).body;
    const canceled = await call('admin', `/customer/commands/${created.command_id}/cancel`, 'POST', {});
    expect(canceled.body).toMatchObject({ state: 'CANCELED' });
    const again = await call('admin', `/customer/commands/${created.command_id}/cancel`, 'POST', {});
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/is CANCELED/);

    const short = (await send('cfg', { name: 'ping', expires_in_seconds: 1 })).body;
    await waitFor(async () => (await command(short.command_id)).state === 'EXPIRED', 8000);
    expect((await command(short.command_id)).error).toBe('not delivered before it expired');
  });

  it('serves an HTTP device by long poll: fetched is DELIVERED, its result ends the command', async () => {
    const token = tokens.get(`${TENANT}/http-1`)!;
    const base = `${pulse.base}/ingest/v1/tenant/${TENANT}/device/http-1`;
    const poll = fetch(`${base}/commands?wait=10`, { headers: { 'x-provision-token': token } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const created = (await send('http-1', { name: 'set_interval', params: { seconds: 30 } })).body;
    const fetched = await poll;
    expect(fetched.status).toBe(200);
    const body = (await fetched.json()) as { commands: { id: string; name: string }[] };
    expect(body.commands).toEqual([expect.objectContaining({ id: created.command_id, name: 'set_interval' })]);
    expect((await command(created.command_id)).state).toBe('DELIVERED');

    const wrong = await fetch(`${base}/commands`, { headers: { 'x-provision-token': 'tok-wrong' } });
    expect(wrong.status).toBe(401);
    const result = await fetch(`${base}/commands/${created.command_id}/result`, {
      method: 'POST',
      headers: { 'x-provision-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'FAILED', error: 'interval out of range' }),
    });
    expect(await result.json()).toEqual({ id: created.command_id, state: 'FAILED' });
    expect(await command(created.command_id)).toMatchObject({ state: 'FAILED', error: 'interval out of range' });
  });

  it('sends the desired configuration on connect and on change, and shows the delta until it is applied', async () => {
    const set = await call('admin', '/customer/devices/cfg/config', 'PUT', { desired: { interval: 10, mode: 'eco' } });
    expect(set.body).toMatchObject({ desired_version: 1, in_sync: false, delta: ['interval', 'mode'] });
    const cfg = device('cfg');
    await cfg.connect();
    await waitFor(() => cfg.configs().length > 0);
    expect(cfg.configs()[0]).toEqual({
      version: 1,
      desired: { interval: 10, mode: 'eco' },
    });
    await cfg.reply('config_reported', { version: 1, reported: { interval: 10, mode: 'eco' } });
    await waitFor(async () => (await call('admin', '/customer/devices/cfg/config')).body.in_sync === true);

    const patched = await call('admin', '/customer/devices/cfg/config', 'PATCH', { desired: { mode: null, level: 3 } });
    expect(patched.body).toMatchObject({
      desired: { interval: 10, level: 3 },
      desired_version: 2,
      delta: ['level', 'mode'],
    });
    expect(patched.body.out_of_sync_since).not.toBeNull();
    await waitFor(() => cfg.received.some((r) => r.message.version === 2));
  });

  it('patches the desired configuration of a selection, each device one new version', async () => {
    const before = (await call('admin', '/customer/devices/cfg/config')).body.desired_version as number;
    const patched = await call('admin', '/customer/config', 'PATCH', {
      selector: { device_ids: ['cfg', 'busy'] },
      desired: { level: 5 },
    });
    expect(patched.body).toEqual({ devices: 2 });
    const cfg = (await call('admin', '/customer/devices/cfg/config')).body;
    expect(cfg).toMatchObject({ desired_version: before + 1, in_sync: false });
    expect(cfg.desired.level).toBe(5);
    expect((await call('admin', '/customer/devices/busy/config')).body.desired).toEqual({ level: 5 });
    expect(
      (await call('viewer', '/customer/config', 'PATCH', { selector: { all: true }, desired: { x: 1 } })).status,
    ).toBe(403);
    // Another tenant's selection never reaches these devices.
    expect(
      (await call('other', '/customer/config', 'PATCH', { selector: { device_ids: ['cfg'] }, desired: { x: 1 } })).body,
    ).toEqual({
      devices: 0,
    });
    expect((await call('admin', '/customer/devices/cfg/config')).body.desired.x).toBeUndefined();
  });

  it('runs a job at its pace over a selection and stops it when too many fail', async () => {
    const fleet = Array.from({ length: 12 }, (_, i) => `fleet-${String(i).padStart(2, '0')}`);
    for (const id of fleet) await device(id, () => ({ status: 'SUCCEEDED', result: { ok: 1 } })).connect();
    const count = await call('admin', '/customer/devices/selection', 'POST', { selector: { site_ids: ['plant'] } });
    expect(count.body.count).toBe(12);
    const job = await call('admin', '/customer/jobs', 'POST', {
      name: 'reboot plant',
      kind: 'command',
      command_name: 'reboot',
      selector: { device_prefix: 'fleet-' },
      max_in_flight: 3,
      abort_failure_percent: null,
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    expect(job.body.counts).toMatchObject({ total: 12, PENDING: 12 });
    expect(job.body.abort_failure_percent).toBeNull();
    await waitFor(
      async () => (await call('admin', `/customer/jobs/${job.body.job_id}`)).body.state === 'COMPLETED',
      20_000,
    );
    const finished = (await call('admin', `/customer/jobs/${job.body.job_id}`)).body;
    expect(finished.counts).toMatchObject({ SUCCEEDED: 12, IN_PROGRESS: 0 });
    const executions = (await call('admin', `/customer/jobs/${job.body.job_id}/executions?limit=20`)).body.executions;
    expect(executions.map((e: { device_id: string }) => e.device_id)).toEqual(fleet);

    // Devices that fail every command: after 4 finished, more than half failed — the rest is withdrawn.
    for (const made of devices.filter((d) => d.deviceId.startsWith('fleet-'))) await made.disconnect();
    for (const id of fleet) await device(id, () => ({ status: 'FAILED' })).connect();
    const doomed = await call('admin', '/customer/jobs', 'POST', {
      name: 'doomed',
      kind: 'command',
      command_name: 'explode',
      selector: { site_ids: ['plant'] },
      max_in_flight: 1,
      abort_failure_percent: 50,
      abort_min_devices: 4,
    });
    await waitFor(
      async () => (await call('admin', `/customer/jobs/${doomed.body.job_id}`)).body.state === 'ABORTED',
      20_000,
    );
    const aborted = (await call('admin', `/customer/jobs/${doomed.body.job_id}`)).body;
    expect(aborted.counts.FAILED).toBe(4);
    expect(aborted.counts.CANCELED).toBe(8);
    expect(aborted.reason).toMatch(/4 of 4 finished devices failed/);
  });

  it('updates firmware: a signed link in the command, a download resumed mid-file, progress, the new version recorded', async () => {
    const image = randomBytes(700 * 1024);
    const uploaded = await fetch(`${pulse.base}/customer/firmware?version=2.0.0&filename=fw.bin`, {
      method: 'POST',
      headers: { ...bearer(users.admin!), 'content-type': 'application/octet-stream' },
      body: image,
    });
    expect(uploaded.status).toBe(201);
    const { image_id } = (await uploaded.json()) as { image_id: string };
    const fw = device('fw-1');
    await fw.connect();
    const job = await call('admin', '/customer/jobs', 'POST', {
      name: 'to 2.0.0',
      kind: 'firmware',
      params: { image_id },
      selector: { device_ids: ['fw-1'] },
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    await waitFor(() => fw.commands().some((c) => c.name === 'firmware_update'));
    const update = fw.commands().find((c) => c.name === 'firmware_update')!;
    const params = update.params as { url: string; size: number; sha256: string; version: string };
    expect(params).toMatchObject({
      image_id,
      version: '2.0.0',
      size: image.length,
      sha256: createHash('sha256').update(image).digest('hex'),
    });
    expect(params.url).toMatch(/^\/ingest\/v1\/firmware\/.+sig=/);

    await fw.reply('command_progress', { id: update.id, state: 'DOWNLOADING' });
    // Half, then the rest with Range: the bytes add up to the image.
    const first = await fetch(`${pulse.base}${params.url}`, { headers: { range: `bytes=0-${params.size / 2 - 1}` } });
    expect(first.status).toBe(206);
    const rest = await fetch(`${pulse.base}${params.url}`, { headers: { range: `bytes=${params.size / 2}-` } });
    const bytes = Buffer.concat([Buffer.from(await first.arrayBuffer()), Buffer.from(await rest.arrayBuffer())]);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(params.sha256);
    // Another device's link is not this one.
    expect((await fetch(`${pulse.base}${params.url.replace('device=fw-1', 'device=busy')}`)).status).toBe(403);
    for (const state of ['DOWNLOADED', 'VERIFIED', 'UPDATING'])
      await fw.reply('command_progress', { id: update.id, state });
    await waitFor(async () => (await command(update.id!)).progress === 'UPDATING');
    await fw.reply('command_progress', { id: update.id, state: 'UPDATED', detail: { fw_version: '2.0.0' } });
    await waitFor(
      async () => (await call('admin', `/customer/jobs/${job.body.job_id}`)).body.state === 'COMPLETED',
      10_000,
    );
    expect(await command(update.id!)).toMatchObject({ state: 'SUCCEEDED', progress: 'UPDATED' });
    const { rows } = await pulse.db.withService((tx) =>
      tx.query(`SELECT fw_version FROM device_registry WHERE tenant_id = $1 AND device_id = 'fw-1'`, [TENANT]),
    );
    expect(rows[0]!.fw_version).toBe('2.0.0');
  });

  it('takes the attributes a device reports of itself over MQTT and HTTP; a person’s value wins, and it stays connected', async () => {
    const ops = device('ops', () => ({ status: 'SUCCEEDED' }));
    await ops.connect();
    await ops.reply('attributes_reported', { attributes: { model: 'R1', build: '2026.12', battery_cells: 4 } });
    const shown = async () => (await call('admin', '/customer/devices/ops')).body.device;
    await waitFor(async () => (await shown()).reported_attributes.model === 'R1', 10_000);
    const selected = async (query: string) =>
      (await call('admin', `/customer/devices?${query}`)).body.devices.map((d: { device_id: string }) => d.device_id);
    expect(await selected('attr=model:eq:R1')).toEqual(['ops']);
    // What a person sets wins for the selector; the device's own report is still shown.
    expect((await call('admin', '/customer/devices/ops', 'PATCH', { attributes: { model: 'R1-custom' } })).status).toBe(
      200,
    );
    expect(await selected('attr=model:eq:R1')).toEqual([]);
    expect(await selected('attr=model:eq:R1-custom&attr=battery_cells:gte:4')).toEqual(['ops']);
    expect((await shown()).reported_attributes).toEqual({ model: 'R1', build: '2026.12', battery_cells: 4 });
    // Neither the report nor the change put the device out: a command still reaches it.
    const ping = await send('ops', { name: 'ping' }, '?wait=10');
    expect(ping.body.state).toBe('SUCCEEDED');
    await ops.disconnect(); // the next test connects as ops itself

    const http = (body: unknown) =>
      fetch(`${pulse.base}/ingest/v1/tenant/${TENANT}/device/http-1/attributes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-provision-token': tokens.get(`${TENANT}/http-1`)! },
        body: JSON.stringify(body),
      });
    const bad = await http({ attributes: { model: { nested: true } } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(
      /attributes: model must be text, a finite number/,
    );
    expect((await http({ attributes: { model: 'H1' } })).status).toBe(200);
    expect(await selected('attr=model:eq:H1')).toEqual(['http-1']);
    // Reported again, it replaces what it reported before.
    expect((await http({ attributes: { serial: 'S-9' } })).status).toBe(200);
    expect((await call('admin', '/customer/devices/http-1')).body.device.reported_attributes).toEqual({
      serial: 'S-9',
    });
    expect(await selected('attr=model:exists&prefix=http')).toEqual([]);
  });

  it('keeps every tenant to its own commands, configuration and jobs', async () => {
    const created = (await send('busy', { name: 'ping' })).body;
    expect((await call('other', `/customer/commands/${created.command_id}`)).status).toBe(404);
    expect((await call('other', `/customer/commands/${created.command_id}/cancel`, 'POST', {})).status).toBe(404);
    expect((await call('other', '/customer/devices/busy/commands', 'POST', { name: 'ping' })).status).toBe(404);
    expect((await call('other', '/customer/devices/busy/commands')).body.commands).toEqual([]);
    expect((await call('other', '/customer/devices/cfg/config')).status).toBe(404);
    expect((await call('other', '/customer/jobs')).body.jobs).toEqual([]);
    // Viewers see and do not act.
    expect((await call('viewer', '/customer/devices/busy/commands')).status).toBe(200);
    expect((await call('viewer', '/customer/devices/busy/commands', 'POST', { name: 'ping' })).status).toBe(403);
    expect(
      (
        await call('viewer', '/customer/jobs', 'POST', {
          name: 'x',
          kind: 'command',
          command_name: 'x',
          selector: { all: true },
        })
      ).status,
    ).toBe(403);
    // Row-level security alone refuses them too.
    const seen = await pulse.db.withTenant(OTHER, (tx) =>
      tx.query(`SELECT count(*)::int AS n FROM device_commands WHERE tenant_id = $1`, [TENANT]),
    );
    expect(seen.rows[0]!.n).toBe(0);
    const touched = await pulse.db.withTenant(OTHER, (tx) =>
      tx.query(`UPDATE device_commands SET state = 'CANCELED' WHERE command_id = $1`, [created.command_id]),
    );
    expect(touched.rowCount).toBe(0);
  });

  it('lets an operator_admin command any tenant’s device, audited with what was sent', async () => {
    users.opAdmin = await tokenFor(pulse, { username: `cmd-opadmin-${engine}`, role: 'operator_admin' });
    users.operator = await tokenFor(pulse, { username: `cmd-op-${engine}`, role: 'operator' });
    await device('ops', (c) => ({ status: 'SUCCEEDED', result: { echo: c.params } })).connect();
    const path = `/operator/tenants/${TENANT}/devices/ops/commands`;
    const sent = await call('opAdmin', `${path}?wait=10`, 'POST', { name: 'echo', params: { from: 'ops' } });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ tenant_id: TENANT, state: 'SUCCEEDED', result: { echo: { from: 'ops' } } });
    expect((await call('operator', path, 'POST', { name: 'echo' })).status).toBe(403);
    expect((await send('ops', { name: 'echo', params: { n: 1 } })).status).toBe(201);
    // The audit entry is written once the answer went out.
    await waitFor(async () =>
      JSON.stringify((await call('admin', '/customer/audit?limit=100')).body).includes(
        'sent command echo {\\"n\\":1} to ops',
      ),
    );
  });
});
