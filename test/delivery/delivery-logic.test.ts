// Pure parts of alert delivery: SSRF rules, route matching, backoff, templates, payloads, sealed
// secrets, setting checks and the SNMP varbinds.
import { describe, expect, it } from 'vitest';
import { composeEmail } from '../../src/channels/email.js';
import { snmpSeverity, trapVarbinds } from '../../src/channels/snmp.js';
import { checkMqttTopic, checkSnmpConfig } from '../../src/model/integration-input.js';
import type { EmailTarget } from '../../src/channels/target.js';
import { buildPayload, type AlertRow } from '../../src/model/alerts.js';
import { retrySeconds } from '../../src/delivery/worker.js';
import { eventStillDue, routeMatches, type RouteFilter } from '../../src/model/routes.js';
import { maskedUrl } from '../../src/lib/masked-url.js';
import { createSecretBox, parseSecretsKey } from '../../src/lib/secrets.js';
import { addressProblem, Allowlist, hostnameProblem, resolveDestination } from '../../src/lib/ssrf.js';
import { render, templateValues, unknownVariables } from '../../src/channels/template.js';

const none = new Allowlist([]);

describe('SSRF rules', () => {
  it('blocks private, loopback, link-local, CGNAT, multicast, reserved and metadata addresses', () => {
    for (const address of [
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '127.0.0.1',
      '169.254.1.1',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '240.0.0.1',
      '::1',
      'fd12::1',
      'fe80::1',
      '::ffff:10.0.0.1',
    ]) {
      expect(addressProblem(address, none), address).toBe('private_address');
    }
    expect(addressProblem('169.254.169.254', none)).toBe('metadata_endpoint');
    expect(addressProblem('8.8.8.8', none)).toBeUndefined();
    expect(addressProblem('2606:4700::1111', none)).toBeUndefined();
  });

  it('judges an IPv6 address that embeds an IPv4 one as that IPv4 address, in every notation', () => {
    for (const address of [
      '::127.0.0.1', // IPv4-compatible
      '::ffff:7f00:1', // IPv4-mapped, hex
      '::ffff:a00:1', // IPv4-mapped 10.0.0.1
      '64:ff9b::7f00:1', // NAT64 well-known prefix
      '64:ff9b::192.168.1.1',
      '64:ff9b:1::1', // local-use NAT64
      '2002:7f00:1::', // 6to4
      '2001:0:4136:e378::1', // Teredo
    ]) {
      expect(addressProblem(address, none), address).toBe('private_address');
    }
    expect(addressProblem('64:ff9b::a9fe:a9fe', none)).toBe('metadata_endpoint');
    // Public IPv4 behind NAT64 (what DNS64 answers on an IPv6-only network) stays reachable.
    expect(addressProblem('64:ff9b::808:808', none)).toBeUndefined();
    expect(addressProblem('::ffff:8.8.8.8', none)).toBeUndefined();
  });

  it('refuses internal names before resolving them; the allowlist opens exactly what it names', () => {
    expect(hostnameProblem('localhost', none)).toBe('internal_hostname');
    expect(hostnameProblem('db.internal', none)).toBe('internal_hostname');
    expect(hostnameProblem('printer.local.', none)).toBe('internal_hostname');
    expect(hostnameProblem('metadata.google.internal', none)).toBe('metadata_endpoint');
    expect(hostnameProblem('hooks.example.com', none)).toBeUndefined();
    const allow = new Allowlist(['10.1.0.0/16', 'mail.local', '127.0.0.1']);
    expect(addressProblem('10.1.2.3', allow)).toBeUndefined();
    expect(addressProblem('10.2.0.1', allow)).toBe('private_address');
    expect(addressProblem('127.0.0.1', allow)).toBeUndefined();
    expect(addressProblem('127.0.0.2', allow)).toBe('private_address');
    expect(hostnameProblem('mail.local', allow)).toBeUndefined();
  });

  it('resolves once, refuses if any answer is blocked, and returns the address to connect to', async () => {
    const answers =
      (...addresses: string[]) =>
      async () =>
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    expect(await resolveDestination('hooks.example.com', none, answers('93.184.216.34'))).toEqual({
      address: '93.184.216.34',
      family: 4,
    });
    await expect(resolveDestination('evil.example.com', none, answers('93.184.216.34', '10.0.0.5'))).rejects.toThrow(
      'Hostname resolves to blocked IP address',
    );
    await expect(resolveDestination('gone.example.com', none, async () => [])).rejects.toThrow(
      'Hostname does not resolve',
    );
    await expect(resolveDestination('[::1]', none)).rejects.toThrow('Private IP addresses are not allowed');
    // A name on the allowlist may resolve to a private address.
    expect(await resolveDestination('receiver.lan', new Allowlist(['receiver.lan']), answers('192.168.7.7'))).toEqual({
      address: '192.168.7.7',
      family: 4,
    });
  });
});

describe('routing', () => {
  const route = (overrides: Partial<RouteFilter> = {}): RouteFilter => ({
    deliver_on: ['OPEN'],
    min_severity: null,
    severities: null,
    alert_types: null,
    site_ids: null,
    device_prefixes: null,
    selector: null,
    ...overrides,
  });
  const alert = { alert_type: 'THRESHOLD', severity: 4, site_id: 'plant-1', device_id: 'pump-7' };

  it('matches on every filter it has, and only on the events it delivers', () => {
    expect(routeMatches(route(), alert, 'OPEN')).toBe(true);
    expect(routeMatches(route(), alert, 'CLOSED')).toBe(false);
    expect(routeMatches(route({ deliver_on: ['OPEN', 'CLOSED'] }), alert, 'CLOSED')).toBe(true);
    expect(routeMatches(route({ min_severity: 5 }), alert, 'OPEN')).toBe(false);
    expect(routeMatches(route({ severities: ['HIGH'] }), alert, 'OPEN')).toBe(true);
    expect(routeMatches(route({ severities: ['CRITICAL'] }), alert, 'OPEN')).toBe(false);
    expect(routeMatches(route({ alert_types: ['NO_HEARTBEAT'] }), alert, 'OPEN')).toBe(false);
    expect(routeMatches(route({ site_ids: ['plant-1'] }), alert, 'OPEN')).toBe(true);
    expect(routeMatches(route({ device_prefixes: ['fan-', 'pump-'] }), alert, 'OPEN')).toBe(true);
    expect(routeMatches(route({ device_prefixes: ['fan-'] }), alert, 'OPEN')).toBe(false);
    expect(routeMatches(route({ alert_types: [], site_ids: [] }), alert, 'OPEN')).toBe(true);
  });

  it('backs off exponentially with ±20 % jitter, capped', () => {
    expect([1, 2, 3, 4].map((attempt) => retrySeconds(attempt, 30, 7200, () => 0.5))).toEqual([30, 60, 120, 240]);
    expect(retrySeconds(20, 30, 7200, () => 0.5)).toBe(7200);
    expect(retrySeconds(1, 30, 7200, () => 0)).toBe(24);
    expect(retrySeconds(1, 30, 7200, () => 1)).toBe(36);
    expect(retrySeconds(1, 1, 60, () => 0)).toBe(1); // whole seconds: 0.8 s is 1
  });
});

const alertRow: AlertRow = {
  alert_id: 42,
  tenant_id: 'acme',
  site_id: 'plant-1',
  device_id: 'pump-7',
  alert_type: 'THRESHOLD',
  title: 'Pump overheating',
  fingerprint: 'RULE:r:pump-7',
  severity: 5,
  confidence: 0.9,
  summary: 'temp <b>hot</b> & rising',
  details: { value: 41 },
  status: 'OPEN',
  created_at: new Date('2026-11-28T10:00:00Z'),
  closed_at: null,
};

describe('payloads, templates and channel formats', () => {
  it('carries the tenant, details as an object, a severity label and ISO times', () => {
    expect(buildPayload(alertRow, 'OPEN')).toMatchObject({
      tenant_id: 'acme',
      details: { value: 41 },
      severity: 5,
      severity_label: 'CRITICAL',
      created_at: '2026-11-28T10:00:00.000Z',
      event: 'OPEN',
      status: 'OPEN',
    });
    expect(buildPayload({ ...alertRow, status: 'OPEN' }, 'CLOSED').status).toBe('CLOSED');
  });

  it('renders {variables}, leaves unknown ones, escapes HTML values', () => {
    expect(render('alerts/{tenant_id}/{nope}', { tenant_id: 'acme' })).toBe('alerts/acme/{nope}');
    expect(unknownVariables('{device_id} {bogus} {}')).toEqual(['bogus', '']);
    const target = {
      format: 'html',
      subject_template: '[{severity_label}] {summary}',
      body_template: undefined,
    } as unknown as EmailTarget;
    const mail = composeEmail(target, buildPayload(alertRow, 'OPEN'));
    expect(mail.subject).toBe('[CRITICAL] temp <b>hot</b> & rising');
    expect(mail.html).toContain('temp &lt;b&gt;hot&lt;/b&gt; &amp; rising');
    expect(mail.text).toContain('Device: pump-7');
    const repeat = { ...buildPayload(alertRow, 'OPEN'), notice: { kind: 'repeat' as const, number: 2 } };
    expect(composeEmail(target, repeat).subject).toBe('[Repeat 2] [CRITICAL] temp <b>hot</b> & rising');
    const escalated = { ...repeat, notice: { kind: 'escalation' as const, after_minutes: 30 } };
    expect(composeEmail(target, escalated).subject).toBe(
      '[Escalation after 30 min] [CRITICAL] temp <b>hot</b> & rising',
    );
  });

  it("names the alert by its title (its rule's name) in the payload and the default email subject", () => {
    const payload = buildPayload(alertRow, 'OPEN');
    // Added beside the original's fields, which stay as they were (docs/wire-contract.md#notification-payload).
    expect(payload).toMatchObject({ title: 'Pump overheating', alert_type: 'THRESHOLD', summary: alertRow.summary });
    const mail = composeEmail({ format: 'text', subject_template: '' } as unknown as EmailTarget, payload);
    expect(mail.subject).toBe('[CRITICAL] Pump overheating: pump-7');
    expect(mail.text).toContain('ALERT OPEN: Pump overheating (THRESHOLD)');
    expect(render('{title}', templateValues(payload))).toBe('Pump overheating');
    // An alert of no device (an integration failing) leaves no dangling ": " in the subject.
    const noDevice = { ...payload, device_id: '', title: 'Integration failing', severity: 4 };
    expect(composeEmail({ format: 'text', subject_template: '' } as unknown as EmailTarget, noDevice).subject).toMatch(
      /^\[\w+\] Integration failing$/,
    );
  });

  it('maps numeric severities to the SNMP severity varbind and fills the OIDs of the wire contract', () => {
    expect([5, 4, 3, 2, 1].map(snmpSeverity)).toEqual([1, 1, 2, 3, 3]);
    const varbinds = trapVarbinds('1.3.6.1.4.1.99999', buildPayload(alertRow, 'OPEN'));
    expect(varbinds.slice(0, 4).map((v) => [v.oid, v.value])).toEqual([
      ['1.3.6.1.4.1.99999.1.1.0', '42'],
      ['1.3.6.1.4.1.99999.1.2.0', 'pump-7'],
      ['1.3.6.1.4.1.99999.1.3.0', 'acme'],
      ['1.3.6.1.4.1.99999.1.4.0', 1],
    ]);
  });
});

describe('sealed secrets', () => {
  it('round-trips, uses a fresh IV each time and refuses a tampered or foreign box', () => {
    const box = createSecretBox(Buffer.alloc(32, 7));
    const sealed = box.seal({ community: 'public-ish' });
    expect(sealed).not.toContain('public-ish');
    expect(box.seal({ community: 'public-ish' })).not.toBe(sealed);
    expect(box.open(sealed)).toEqual({ community: 'public-ish' });
    expect(box.open(null)).toEqual({});
    const parts = sealed.split('.');
    expect(() => box.open([...parts.slice(0, 3), `A${parts[3]!.slice(1)}`].join('.'))).toThrow();
    expect(() => createSecretBox(Buffer.alloc(32, 8)).open(sealed)).toThrow();
    expect(parseSecretsKey('ab'.repeat(32))?.length).toBe(32);
    expect(parseSecretsKey(Buffer.alloc(32, 1).toString('base64'))?.length).toBe(32);
    expect(parseSecretsKey('short')).toBeUndefined();
  });
});

describe('integration settings checks', () => {
  it('SNMP: v2c needs a community, v3 a user and passwords; AES192 is refused', () => {
    expect(checkSnmpConfig({ version: '2c', community: 'c' })).toEqual({ version: '2c', community: 'c' });
    expect(() => checkSnmpConfig({ version: '2c' })).toThrow('community must be 1-64 characters');
    expect(
      checkSnmpConfig({ version: '3', username: 'u', auth_password: 'password1', priv_password: 'password2' }),
    ).toMatchObject({
      auth_protocol: 'SHA',
      priv_protocol: 'AES',
    });
    expect(
      checkSnmpConfig({ version: '3', username: 'u', auth_password: 'password1', priv_protocol: null }),
    ).toMatchObject({ priv_protocol: null });
    expect(() => checkSnmpConfig({ version: '3', username: 'u', auth_password: 'short' })).toThrow(
      'auth_password must be 8-64 characters',
    );
    expect(() =>
      checkSnmpConfig({ version: '3', username: 'u', auth_password: 'password1', priv_protocol: 'AES' }),
    ).toThrow(/priv_password/);
    expect(() =>
      checkSnmpConfig({ version: '3', username: 'u', auth_password: 'password1', auth_protocol: 'SHA1024' }),
    ).toThrow(/auth_protocol/);
  });

  it('MQTT topics stay under the tenant’s alerts/ namespace', () => {
    expect(() => checkMqttTopic('alerts/acme/{site_id}', 'acme')).not.toThrow();
    expect(() => checkMqttTopic('alerts/{tenant_id}/{device_id}', 'acme')).not.toThrow();
    expect(() => checkMqttTopic('', 'acme')).toThrow('Topic is empty');
    expect(() => checkMqttTopic('devices/acme', 'acme')).toThrow('Topic must start with alerts/');
    expect(() => checkMqttTopic('alerts/other/x', 'acme')).toThrow(
      'Topic must start with alerts/acme/ or alerts/{tenant_id}/',
    );
    expect(() => checkMqttTopic('alerts/acme/+', 'acme')).toThrow('MQTT wildcards are not allowed');
    expect(() => checkMqttTopic('alerts/acme/{a}/{b}', 'acme')).toThrow('Unknown template variables: a, b');
    expect(() => checkMqttTopic('alerts/acme/{site_id', 'acme')).toThrow('Invalid template variables');
    expect(() => checkMqttTopic(`alerts/acme/${'x'.repeat(520)}`, 'acme')).toThrow('Topic is too long');
  });
});

describe('events still due', () => {
  const route = { created_at: new Date('2026-11-30T12:00:00Z') };
  const at = (iso: string) => new Date(iso);
  it('sends an OPEN only while the alert is open, and nothing that happened before the route', () => {
    const open = { status: 'OPEN', created_at: at('2026-11-30T12:05:00Z'), closed_at: null };
    expect(eventStillDue(route, open, 'OPEN')).toBe(true);
    expect(eventStillDue(route, { ...open, status: 'ACKNOWLEDGED' }, 'OPEN')).toBe(true);
    expect(eventStillDue(route, { ...open, created_at: at('2026-11-30T11:59:59Z') }, 'OPEN')).toBe(false);
    const closed = { status: 'CLOSED', created_at: at('2026-11-30T11:00:00Z'), closed_at: at('2026-11-30T12:10:00Z') };
    expect(eventStillDue(route, closed, 'OPEN')).toBe(false);
    expect(eventStillDue(route, closed, 'CLOSED')).toBe(true);
    expect(eventStillDue(route, { ...closed, closed_at: at('2026-11-30T11:30:00Z') }, 'CLOSED')).toBe(false);
    expect(eventStillDue(route, { ...open, closed_at: null }, 'CLOSED')).toBe(false);
  });
});

describe('webhook URLs for viewers', () => {
  it('keep the origin and hide the path and query, where such URLs carry their secret', () => {
    expect(maskedUrl('https://hooks.slack.com/services/T000/B000/XXXX')).toBe('https://hooks.slack.com/…');
    expect(maskedUrl('https://ops.example:8443/hook?token=abc')).toBe('https://ops.example:8443/…');
    expect(maskedUrl('https://ops.example/')).toBe('https://ops.example/');
    expect(maskedUrl('not a url')).toBe('…');
    expect(maskedUrl(null)).toBeNull();
  });
});
