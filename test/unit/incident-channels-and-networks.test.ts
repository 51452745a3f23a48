// Pure pieces of issue 33: what each incident service is sent for each event (mapping and length limits,
// checked against the documented request schemas), when an ACKNOWLEDGED event is still due, and API key
// allow-lists.
import { describe, expect, it } from 'vitest';
import type { DeliveryEvent } from '../../src/channels/payload.js';
import { buildPayload, type AlertRow } from '../../src/model/alerts.js';
import { slackMessage } from '../../src/channels/slack.js';
import { teamsMessage } from '../../src/channels/teams.js';
import { pagerDutyEvent } from '../../src/channels/pagerduty.js';
import { opsgenieRequest } from '../../src/channels/opsgenie.js';
import { inNetworks, parseNetworks } from '../../src/lib/networks.js';
import { eventStillDue } from '../../src/model/routes.js';
import { newApiKeySecret, secretSha256 } from '../../src/api/api-keys.js';
import { schemaProblems } from '../helpers/service-schemas.js';

const URL = 'https://pulse.example.com/app/alerts/77';
const alert = (overrides: Partial<AlertRow> = {}): AlertRow => ({
  alert_id: 77,
  tenant_id: 'acme',
  site_id: 'plant',
  device_id: 'pump-1',
  alert_type: 'THRESHOLD',
  title: 'Pressure high',
  fingerprint: 'RULE:r:pump-1',
  severity: 5,
  confidence: 1,
  summary: 'bar 9.5 > 8',
  details: { value: 9.5 },
  status: 'OPEN',
  created_at: new Date('2026-01-01T10:00:00Z'),
  closed_at: null,
  acknowledged_at: null,
  ...overrides,
});
const payload = (event: DeliveryEvent, overrides: Partial<AlertRow> = {}) => buildPayload(alert(overrides), event);
const ROUTING_KEY = 'a'.repeat(32);

describe('incident services', () => {
  it.each([
    [5, 'critical', 'P1'],
    [4, 'error', 'P2'],
    [3, 'warning', 'P3'],
    [2, 'info', 'P4'],
    [1, 'info', 'P5'],
  ])('severity %i is PagerDuty %s and Opsgenie %s', (severity, pagerDuty, opsgenie) => {
    expect(pagerDutyEvent(payload('OPEN', { severity }), ROUTING_KEY, URL)).toMatchObject({
      payload: { severity: pagerDuty },
    });
    expect(opsgenieRequest(payload('OPEN', { severity }), URL).body).toMatchObject({ priority: opsgenie });
  });

  it.each([
    ['OPEN', 'trigger', 'POST /v2/alerts'],
    ['ACKNOWLEDGED', 'acknowledge', 'POST /v2/alerts/77/acknowledge?identifierType=alias'],
    ['CLOSED', 'resolve', 'POST /v2/alerts/77/close?identifierType=alias'],
  ] as const)('%s is PagerDuty %s and Opsgenie %s, by the alert id', (event, action, path) => {
    const closed = { status: event, closed_at: event === 'CLOSED' ? new Date() : null };
    const pd = pagerDutyEvent(payload(event, closed), ROUTING_KEY, URL);
    expect(pd).toMatchObject({ event_action: action, dedup_key: '77' });
    expect(schemaProblems('pagerduty', pd)).toEqual([]);
    const og = opsgenieRequest(payload(event, closed), URL);
    expect(`POST ${og.path}`).toBe(path);
    expect(schemaProblems(event === 'OPEN' ? 'opsgenieCreate' : 'opsgenieAction', og.body)).toEqual([]);
  });

  it('cuts long texts to each service limit instead of being refused', () => {
    const long = payload('OPEN', { title: 'x'.repeat(5000), summary: 'y'.repeat(20_000), site_id: 's'.repeat(80) });
    const slack = slackMessage(long, URL);
    expect(schemaProblems('slack', slack)).toEqual([]);
    expect(slack.blocks[0]).toMatchObject({ text: { text: expect.stringMatching(/…$/) } });
    expect(schemaProblems('teams', teamsMessage(long, URL))).toEqual([]);
    expect(schemaProblems('pagerduty', pagerDutyEvent(long, ROUTING_KEY, URL))).toEqual([]);
    expect(schemaProblems('opsgenieCreate', opsgenieRequest(long, URL).body)).toEqual([]);
  });

  it('escapes Slack mrkdwn control characters and says when a message repeats', () => {
    const repeat = {
      ...payload('OPEN', { summary: '<!channel> a & b' }),
      notice: { kind: 'repeat' as const, number: 2 },
    };
    const message = slackMessage(repeat, URL);
    expect(message.text).toBe('[CRITICAL] Open: Pressure high (Repeat 2)');
    expect(JSON.stringify(message.blocks[1])).toContain('&lt;!channel&gt; a &amp; b');
  });
});

describe('when an ACKNOWLEDGED event is due', () => {
  const route = { created_at: new Date('2026-01-01T09:00:00Z') };
  it.each([
    [
      'acknowledged after the route existed',
      { status: 'ACKNOWLEDGED', acknowledged_at: new Date('2026-01-01T10:05:00Z') },
      true,
    ],
    [
      'acknowledged before the route existed',
      { status: 'ACKNOWLEDGED', acknowledged_at: new Date('2026-01-01T08:00:00Z') },
      false,
    ],
    [
      'closed since',
      { status: 'CLOSED', acknowledged_at: new Date('2026-01-01T10:05:00Z'), closed_at: new Date() },
      false,
    ],
    ['never acknowledged', { status: 'OPEN', acknowledged_at: null }, false],
  ])('%s: %s', (_name, state, due) => {
    expect(eventStillDue(route, { ...alert(), ...state }, 'ACKNOWLEDGED')).toBe(due);
  });
});

describe('API key networks and secrets', () => {
  it.each([
    [['203.0.113.0/24'], '203.0.113.200', true],
    [['203.0.113.0/24'], '203.0.114.1', false],
    [['203.0.113.7'], '203.0.113.7', true],
    [['203.0.113.0/24'], '::ffff:203.0.113.9', true],
    [['2001:db8::/32'], '2001:db8:1::5', true],
    [['2001:db8::/32'], '2001:db9::5', false],
    [['10.0.0.0/8'], 'not-an-address', false],
  ])('%j allows %s: %s', (entries, address, allowed) => {
    const parsed = parseNetworks(entries);
    if ('problem' in parsed) throw new Error(parsed.problem);
    expect(inNetworks(address, parsed.networks)).toBe(allowed);
  });

  it.each(['10.0.0.0/33', '10.0.0/8', 'example.com', '10.0.0.0/8/1', '::1/129', '10.0.0.0/'])('refuses %s', (entry) => {
    expect(parseNetworks([entry])).toEqual({ problem: expect.stringContaining(entry) });
  });

  it('writes networks in one form, once', () => {
    expect(parseNetworks([' 10.0.0.0/8 ', '10.0.0.0/8', '2001:DB8::1'])).toEqual({
      networks: ['10.0.0.0/8', '2001:db8::1/128'],
    });
  });

  it('makes distinct 256-bit secrets and keeps only their hash', () => {
    const a = newApiKeySecret();
    const b = newApiKeySecret();
    expect(a.secret).not.toBe(b.secret);
    expect(a.sha256).toBe(secretSha256(a.secret));
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(a.secret.slice(6), 'base64url')).toHaveLength(32);
  });
});
