// The customer audit log (issue 18): every /customer change — made or refused — is recorded with who,
// what, on which resource, the fields set (never their values), how it ended and from where; a tenant's
// admins read their own tenant's entries only. On both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { bearer, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

describe.each<Engine>(['pglite', 'postgres'])('customer audit on %s', (engine) => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const call = (who: string, path: string, method = 'GET', json?: unknown) =>
    pulse.call(path, {
      admin: false,
      method,
      headers: { ...bearer(tokens[who]!), 'user-agent': 'audit-test' },
      ...(json !== undefined && { json }),
    });

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { SSRF_ALLOWLIST: '127.0.0.1', API_RATE_LIMIT: '100000' }, ['api']);
    await pulse.db.withService((tx) =>
      tx.query(`INSERT INTO tenants (tenant_id, name) VALUES ('au-a', 'A'), ('au-b', 'B') ON CONFLICT DO NOTHING`),
    );
    tokens.adminA = await tokenFor(pulse, { username: 'au-admin-a', role: 'customer_admin', tenantId: 'au-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'au-viewer-a', role: 'customer_viewer', tenantId: 'au-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'au-admin-b', role: 'customer_admin', tenantId: 'au-b' });
  }, 90_000);
  afterAll(async () => {
    await pulse?.close();
  });

  it('records changes and refusals with who, what and how it ended; admins of the tenant read them', async () => {
    const hot = { name: 'hot', metric_name: 'temp_c', operator: 'GT', threshold: 80 };
    const rule = await call('adminA', '/customer/alert-rules', 'POST', hot);
    expect(rule.status).toBe(201);
    await call('adminA', `/customer/alert-rules/${rule.body.rule_id}`, 'PATCH', { threshold: 90 });
    await call('adminA', '/customer/integrations', 'POST', {
      name: 'hook',
      webhook_url: 'http://127.0.0.1:9/secret-path-token',
    });
    expect((await call('viewerA', '/customer/alert-rules', 'POST', hot)).status).toBe(403);
    await call('viewerA', '/customer/alert-rules'); // a read: not a change

    let entries: any[] = [];
    await waitFor(async () => {
      entries = (await call('adminA', '/customer/audit')).body.entries;
      return entries.length === 4;
    });
    expect(entries.map((e) => [e.action, e.username, e.status_code])).toEqual([
      ['POST /customer/alert-rules', 'au-viewer-a', 403],
      ['POST /customer/integrations', 'au-admin-a', 200],
      ['PATCH /customer/alert-rules/:rule_id', 'au-admin-a', 200],
      ['POST /customer/alert-rules', 'au-admin-a', 201],
    ]);
    expect(entries[2]).toMatchObject({
      tenant_id: 'au-a',
      role: 'customer_admin',
      resource_id: rule.body.rule_id,
      fields: ['threshold'],
      ip_address: '127.0.0.1',
      user_agent: 'audit-test',
    });
    expect(entries[1].fields).toEqual(['name', 'webhook_url']);
    expect(JSON.stringify(entries)).not.toContain('secret-path-token');
    expect((await call('adminA', '/customer/audit?user=au-viewer-a')).body.entries).toHaveLength(1);

    // Viewers do not read it; another tenant reads none of it, by the API or under row-level security.
    expect((await call('viewerA', '/customer/audit')).status).toBe(403);
    expect((await call('adminB', '/customer/audit')).body.entries).toEqual([]);
    const leaked = await pulse.db.withTenant('au-b', (tx) =>
      tx.query(`SELECT count(*)::int AS n FROM customer_audit_log WHERE tenant_id = 'au-a'`),
    );
    expect(leaked.rows[0]).toEqual({ n: 0 });
    expect((await call('adminA', '/customer/audit?start=yesterday')).status).toBe(422);
  });
});
