// Slack, Microsoft Teams, PagerDuty and Opsgenie integrations end to end on PostgreSQL: created with their
// credentials sealed and never answered, tested with the test button, and an alert taken through
// OPEN → ACKNOWLEDGED → CLOSED reaches local receivers standing in for each service, every request checked
// against the body the service documents (test/helpers/service-schemas.ts) and linking to the alert's
// page at PUBLIC_URL. Tenant B neither sees nor changes tenant A's integrations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, tokenFor } from '../helpers/identity.js';
import { deliveriesSettled, startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { startWebhookReceiver } from '../helpers/receivers.js';
import { schemaProblems } from '../helpers/service-schemas.js';
import { waitFor } from '../helpers/wait.js';

const PUBLIC_URL = 'https://pulse.example.com';
const ROUTING_KEY = 'R0ut1ngKeyOfAnEventsV2Integrat10';
const GENIE_KEY = 'eb243592-faa2-4ba2-a551-1afdf565c889';
const SLACK_PATH = '/services/T0001/B0001/slackSecretPart';
const TEAMS_PATH = '/workflows/abc/triggers/manual/paths/invoke?sig=teamsSecretSig';
type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

describe('native notification channels', () => {
  let pulse: TestPlatform;
  const receivers = {} as Record<'slack' | 'teams' | 'pagerduty' | 'opsgenieUs' | 'opsgenieEu', Receiver>;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  let deviceToken: string;

  const call = (token: string, path: string, method = 'GET', json?: unknown) =>
    pulse.call(path, { admin: false, method, headers: bearer(token), ...(json !== undefined && { json }) });
  const admin = (path: string, method = 'GET', json?: unknown) => call(tokens.admin!, path, method, json);
  const since = (receiver: Receiver, from: number) => receiver.received.slice(from);

  beforeAll(async () => {
    receivers.slack = await startWebhookReceiver();
    receivers.teams = await startWebhookReceiver(() => 202);
    receivers.pagerduty = await startWebhookReceiver(() => 202);
    receivers.opsgenieUs = await startWebhookReceiver(() => 202);
    receivers.opsgenieEu = await startWebhookReceiver(() => 202);
    pulse = await startTestPlatform('postgres', {
      SSRF_ALLOWLIST: '127.0.0.1',
      PUBLIC_URL,
      PAGERDUTY_EVENTS_URL: `${receivers.pagerduty.url}/v2/enqueue`,
      OPSGENIE_API_URL: receivers.opsgenieUs.url,
      OPSGENIE_EU_API_URL: `${receivers.opsgenieEu.url}/`,
      API_RATE_LIMIT: '100000',
      WORKER_POLL_SECONDS: '1',
      HEARTBEAT_STALE_SECONDS: '3600',
    });
    tokens.admin = await tokenFor(pulse, { username: 'n-admin', role: 'customer_admin', tenantId: 'tenant-a' });
    tokens.viewer = await tokenFor(pulse, { username: 'n-viewer', role: 'customer_viewer', tenantId: 'tenant-a' });
    tokens.other = await tokenFor(pulse, { username: 'n-other', role: 'customer_admin', tenantId: 'tenant-b' });
    const created = await pulse.call('/api/admin/devices', {
      json: { tenant_id: 'tenant-a', device_id: 'pump-1', site_id: 'plant' },
    });
    deviceToken = (
      await pulse.call('/api/device/activate', {
        admin: false,
        json: { tenant_id: 'tenant-a', device_id: 'pump-1', activation_code: created.body.activation_code },
      })
    ).body.provision_token;
  }, 60_000);
  afterAll(async () => {
    await pulse?.close();
    await Promise.all(Object.values(receivers).map((receiver) => receiver.close()));
  });

  it('creates each type with its credential sealed: no answer shows it, URLs are masked', async () => {
    const answers = [
      await admin('/customer/integrations/slack', 'POST', {
        name: 'ops channel',
        webhook_url: `${receivers.slack.url}${SLACK_PATH}`,
      }),
      await admin('/customer/integrations/teams', 'POST', {
        name: 'ops team',
        webhook_url: `${receivers.teams.url}${TEAMS_PATH}`,
      }),
      await admin('/customer/integrations/pagerduty', 'POST', { name: 'on-call', routing_key: ROUTING_KEY }),
      await admin('/customer/integrations/opsgenie', 'POST', { name: 'genie', api_key: GENIE_KEY, region: 'eu' }),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201]);
    [ids.slack, ids.teams, ids.pagerduty, ids.opsgenie] = answers.map((answer) => answer.body.integration_id);
    expect(answers[0]!.body).toMatchObject({ type: 'slack', url: `${receivers.slack.url}/…` });
    expect(answers[3]!.body).toMatchObject({ type: 'opsgenie', region: 'eu' });

    const everything = JSON.stringify([
      answers.map((answer) => answer.body),
      (await admin('/customer/integrations')).body,
      ...(
        await Promise.all(['slack', 'teams', 'pagerduty', 'opsgenie'].map((t) => admin(`/customer/integrations/${t}`)))
      ).map((answer) => answer.body),
    ]);
    for (const secret of ['slackSecretPart', 'teamsSecretSig', ROUTING_KEY, GENIE_KEY]) {
      expect(everything).not.toContain(secret);
    }
    const stored = await pulse.db.withService((tx) =>
      tx.query<{ secrets: string }>(`SELECT secrets FROM integrations WHERE tenant_id = 'tenant-a'`),
    );
    expect(JSON.stringify(stored.rows)).not.toContain(ROUTING_KEY);
  });

  it('refuses bad credentials and viewers with messages that say what to fix', async () => {
    const badKey = await admin('/customer/integrations/pagerduty', 'POST', { name: 'x', routing_key: 'short' });
    expect(badKey.status).toBe(400);
    expect(badKey.body.detail).toContain('32 letters and digits');
    const badUrl = await admin('/customer/integrations/slack', 'POST', { name: 'x', webhook_url: 'not a url' });
    expect(badUrl).toMatchObject({ status: 400, body: { detail: 'Invalid webhook URL: Invalid URL format' } });
    const blocked = await admin('/customer/integrations/teams', 'POST', {
      name: 'x',
      webhook_url: 'http://169.254.169.254/latest',
    });
    expect(blocked.status).toBe(400);
    const region = await admin('/customer/integrations/opsgenie', 'POST', {
      name: 'x',
      api_key: GENIE_KEY,
      region: 'ap',
    });
    expect(region.status).toBe(422);
    const viewer = await call(tokens.viewer!, '/customer/integrations/pagerduty', 'POST', {
      name: 'x',
      routing_key: ROUTING_KEY,
    });
    expect(viewer.status).toBe(403);
  });

  it("tenant B neither sees, tests, changes nor deletes tenant A's integrations", async () => {
    expect((await call(tokens.other!, '/customer/integrations')).body.integrations).toEqual([]);
    expect((await call(tokens.other!, '/customer/integrations/slack')).body).toEqual([]);
    for (const [type, id] of Object.entries(ids)) {
      expect((await call(tokens.other!, `/customer/integrations/${type}/${id}`)).status).toBe(404);
      expect((await call(tokens.other!, `/customer/integrations/${type}/${id}/test`, 'POST')).status).toBe(404);
      expect(
        (await call(tokens.other!, `/customer/integrations/${type}/${id}`, 'PATCH', { name: 'mine' })).status,
      ).toBe(404);
      expect((await call(tokens.other!, `/customer/integrations/${type}/${id}`, 'DELETE')).status).toBe(404);
    }
    expect((await admin(`/customer/integrations/slack/${ids.slack}`)).body.name).toBe('ops channel');
  });

  it('the test button sends each service a request it documents', async () => {
    for (const type of ['slack', 'teams', 'pagerduty', 'opsgenie']) {
      const answer = await admin(`/customer/integrations/${type}/${ids[type]}/test`, 'POST');
      expect(answer.body).toMatchObject({ success: true, integration_type: type, error: null });
    }
    expect(schemaProblems('slack', receivers.slack.received[0]!.json)).toEqual([]);
    expect(receivers.slack.received[0]!.url).toBe(SLACK_PATH);
    expect(schemaProblems('teams', receivers.teams.received[0]!.json)).toEqual([]);
    expect(receivers.teams.received[0]!.url).toBe(TEAMS_PATH);
    expect(schemaProblems('pagerduty', receivers.pagerduty.received[0]!.json)).toEqual([]);
    expect(receivers.pagerduty.received[0]).toMatchObject({ method: 'POST', url: '/v2/enqueue' });
    expect(receivers.opsgenieUs.received).toEqual([]);
    const [genie] = receivers.opsgenieEu.received;
    expect(genie).toMatchObject({ method: 'POST', url: '/v2/alerts' });
    expect(genie!.headers.authorization).toBe(`GenieKey ${GENIE_KEY}`);
    expect(schemaProblems('opsgenieCreate', genie!.json)).toEqual([]);
  });

  it('an alert through OPEN → ACKNOWLEDGED → CLOSED: trigger/acknowledge/resolve by its id everywhere', async () => {
    const start = Object.fromEntries(Object.entries(receivers).map(([name, r]) => [name, r.received.length]));
    for (const id of Object.values(ids)) {
      const route = await admin('/customer/integration-routes', 'POST', {
        integration_id: id,
        deliver_on: ['OPEN', 'ACKNOWLEDGED', 'CLOSED'],
      });
      expect(route.body.deliver_on).toEqual(['OPEN', 'ACKNOWLEDGED', 'CLOSED']);
    }
    await admin('/customer/alert-rules', 'POST', {
      name: 'Pressure high',
      metric_name: 'bar',
      operator: 'GT',
      threshold: 8,
      severity: 5,
    });
    let seq = 0;
    await waitFor(async () => {
      await pulse.call('/ingest/v1/tenant/tenant-a/device/pump-1/telemetry', {
        admin: false,
        headers: { 'x-provision-token': deviceToken },
        json: { site_id: 'plant', seq: (seq += 1), metrics: { bar: 9.5 } },
      });
      return since(receivers.pagerduty, start.pagerduty!).length > 0;
    }, 20_000);
    const alertId = Number(since(receivers.pagerduty, start.pagerduty!)[0]!.json.dedup_key);
    const alertUrl = `${PUBLIC_URL}/app/alerts/${alertId}`;
    const counts = (n: number) =>
      Object.entries(receivers).every(([name, r]) => name === 'opsgenieUs' || since(r, start[name]!).length >= n);
    await waitFor(() => counts(1), 10_000);
    expect((await admin(`/customer/alerts/${alertId}/acknowledge`, 'POST')).status).toBe(200);
    await waitFor(() => counts(2), 10_000);
    expect((await admin(`/customer/alerts/${alertId}/close`, 'POST')).status).toBe(200);
    await waitFor(() => counts(3), 10_000);
    await deliveriesSettled(pulse); // nothing more is on its way

    const pagerduty = since(receivers.pagerduty, start.pagerduty!).map((r) => r.json);
    expect(pagerduty.map((event) => [event.event_action, event.dedup_key, event.routing_key])).toEqual([
      ['trigger', String(alertId), ROUTING_KEY],
      ['acknowledge', String(alertId), ROUTING_KEY],
      ['resolve', String(alertId), ROUTING_KEY],
    ]);
    for (const event of pagerduty) expect(schemaProblems('pagerduty', event)).toEqual([]);
    expect(pagerduty[0]).toMatchObject({
      payload: { severity: 'critical', source: 'pump-1', group: 'plant', class: 'THRESHOLD' },
      client_url: alertUrl,
      links: [{ href: alertUrl, text: 'View in Pulse' }],
    });
    expect(pagerduty[0].payload.summary).toBe('[CRITICAL] Open: Pressure high');

    const genie = since(receivers.opsgenieEu, start.opsgenieEu!);
    expect(genie.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /v2/alerts',
      `POST /v2/alerts/${alertId}/acknowledge?identifierType=alias`,
      `POST /v2/alerts/${alertId}/close?identifierType=alias`,
    ]);
    expect(genie.every((r) => r.headers.authorization === `GenieKey ${GENIE_KEY}`)).toBe(true);
    expect(schemaProblems('opsgenieCreate', genie[0]!.json)).toEqual([]);
    expect(genie[0]!.json).toMatchObject({ alias: String(alertId), priority: 'P1', entity: 'pump-1' });
    expect(genie[0]!.json.description).toContain(alertUrl);
    for (const action of genie.slice(1)) expect(schemaProblems('opsgenieAction', action.json)).toEqual([]);
    expect(since(receivers.opsgenieUs, start.opsgenieUs!)).toEqual([]);

    const slack = since(receivers.slack, start.slack!).map((r) => r.json);
    for (const message of slack) expect(schemaProblems('slack', message)).toEqual([]);
    expect(slack.map((message) => message.blocks[0].text.text)).toEqual([
      '[CRITICAL] Open: Pressure high',
      '[CRITICAL] Acknowledged: Pressure high',
      '[CRITICAL] Resolved: Pressure high',
    ]);
    expect(slack[0].blocks[2].elements[0].url).toBe(alertUrl);

    const teams = since(receivers.teams, start.teams!).map((r) => r.json);
    for (const message of teams) expect(schemaProblems('teams', message)).toEqual([]);
    const cards = teams.map((message) => message.attachments[0].content);
    expect(cards.map((card) => card.body[0].text)).toEqual(slack.map((message) => message.text));
    expect(cards[0].actions[0]).toEqual({ type: 'Action.OpenUrl', title: 'View in Pulse', url: alertUrl });
    expect(cards.map((card) => card.body[0].color)).toEqual(['Attention', 'Attention', 'Good']);
  }, 60_000);

  it('a changed Opsgenie region needs the API key again; given, the integration sends there', async () => {
    const without = await admin(`/customer/integrations/opsgenie/${ids.opsgenie}`, 'PATCH', { region: 'us' });
    expect(without.status).toBe(400);
    expect(without.body.detail).toContain('give its secrets again: api_key');
    const given = await admin(`/customer/integrations/opsgenie/${ids.opsgenie}`, 'PATCH', {
      region: 'us',
      api_key: GENIE_KEY,
    });
    expect(given.body).toMatchObject({ region: 'us' });
    expect((await admin(`/customer/integrations/opsgenie/${ids.opsgenie}/test`, 'POST')).body.success).toBe(true);
    expect(receivers.opsgenieUs.received.map((r) => r.url)).toEqual(['/v2/alerts']);
  });
});
