// Users managed from the API (issue 19): a customer admin's in its own tenant only (row-level security on
// users), an operator admin's anywhere; passwords checked, roles kept within their kind; on both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { DEMO_PASSWORD, seedDemoUsers } from '../../src/app/demo.js';
import { createUsers } from '../../src/identity/users.js';
import { callerFor, TEST_PASSWORD, tokenFor } from '../helpers/identity.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

describe.each<Engine>(['pglite', 'postgres'])('user management on %s', (engine) => {
  let pulse: TestPlatform;
  const tokens: Record<string, string> = {};
  const call = callerFor(() => pulse, tokens);
  const canLogIn = (username: string, password: string) =>
    createUsers(pulse.db)
      .authenticate(username, password)
      .then((user) => typeof user === 'object');

  beforeAll(async () => {
    pulse = await startTestPlatform(engine, { API_RATE_LIMIT: '100000' }, ['api']);
    tokens.adminA = await tokenFor(pulse, { username: 'um-admin-a', role: 'customer_admin', tenantId: 'um-a' });
    tokens.viewerA = await tokenFor(pulse, { username: 'um-viewer-a', role: 'customer_viewer', tenantId: 'um-a' });
    tokens.adminB = await tokenFor(pulse, { username: 'um-admin-b', role: 'customer_admin', tenantId: 'um-b' });
    tokens.opAdmin = await tokenFor(pulse, { username: 'um-op-admin', role: 'operator_admin' });
    tokens.operator = await tokenFor(pulse, { username: 'um-operator', role: 'operator' });
  }, 90_000);
  afterAll(() => pulse?.close());

  it('a customer admin adds, re-roles, resets and removes users of its tenant', async () => {
    const created = await call('adminA', '/customer/users', 'POST', {
      username: 'um-new-a',
      password: 'first-password-1',
      role: 'customer_viewer',
      email: 'new@example.com',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'um-new-a', tenant_id: 'um-a', role: 'customer_viewer' });
    expect(created.body.password_hash).toBeUndefined();
    expect(await canLogIn('um-new-a', 'first-password-1')).toBe(true);

    const listed = await call('adminA', '/customer/users');
    expect(listed.body.users.map((u: { username: string }) => u.username)).toEqual([
      'um-admin-a',
      'um-new-a',
      'um-viewer-a',
    ]);

    const promoted = await call('adminA', '/customer/users/um-new-a', 'PATCH', { role: 'customer_admin' });
    expect(promoted.body.role).toBe('customer_admin');
    expect((await call('adminA', '/customer/users/um-new-a', 'PATCH', { password: 'second-password-2' })).status).toBe(
      200,
    );
    expect(await canLogIn('um-new-a', 'first-password-1')).toBe(false);
    expect(await canLogIn('um-new-a', 'second-password-2')).toBe(true);
    expect((await call('adminA', '/customer/users/um-new-a', 'DELETE')).status).toBe(204);
    expect(await canLogIn('um-new-a', 'second-password-2')).toBe(false);
  });

  it('refuses short passwords, operator roles, taken names, and changing or removing oneself', async () => {
    const short = await call('adminA', '/customer/users', 'POST', {
      username: 'um-s',
      password: 'short',
      role: 'customer_viewer',
    });
    expect(short.status).toBe(400);
    expect(short.body.detail).toMatch(/at least 8 characters/);
    expect(
      (
        await call('adminA', '/customer/users', 'POST', {
          username: 'um-o',
          password: 'long-enough-1',
          role: 'operator',
        })
      ).status,
    ).toBe(422);
    // Taken in another tenant: refused, though that tenant's user stays invisible.
    const taken = await call('adminA', '/customer/users', 'POST', {
      username: 'um-admin-b',
      password: 'long-enough-1',
      role: 'customer_viewer',
    });
    expect(taken.status).toBe(409);
    expect((await call('adminA', '/customer/users/um-admin-a', 'PATCH', { role: 'customer_viewer' })).status).toBe(400);
    expect((await call('adminA', '/customer/users/um-admin-a', 'DELETE')).status).toBe(400);
  });

  it('disables a user (no sign-in, its tokens refused) and enables it again; never oneself', async () => {
    tokens.disposable = await tokenFor(pulse, { username: 'um-off-a', role: 'customer_viewer', tenantId: 'um-a' });
    expect((await call('disposable', '/customer/alerts')).status).toBe(200);
    const disabled = await call('adminA', '/customer/users/um-off-a', 'PATCH', { disabled: true });
    expect(disabled.body).toMatchObject({ username: 'um-off-a', disabled: true });
    expect(await canLogIn('um-off-a', TEST_PASSWORD)).toBe(false);
    // A token issued before is refused within the verifier's recheck (5 s).
    await waitFor(async () => (await call('disposable', '/customer/alerts')).status === 401, 8000);
    expect((await call('adminA', '/customer/users')).body.users).toContainEqual(
      expect.objectContaining({ username: 'um-off-a', disabled: true }),
    );
    expect((await call('adminA', '/customer/users/um-off-a', 'PATCH', { disabled: false })).body.disabled).toBe(false);
    expect(await canLogIn('um-off-a', TEST_PASSWORD)).toBe(true);
    expect((await call('adminA', '/customer/users/um-admin-a', 'PATCH', { disabled: true })).status).toBe(400);
    expect((await call('opAdmin', '/operator/users/um-op-admin', 'PATCH', { disabled: true })).status).toBe(400);
    // An operator admin may disable anyone else.
    expect((await call('opAdmin', '/operator/users/um-off-a', 'PATCH', { disabled: true })).body.disabled).toBe(true);
  });

  it("never shows or touches another tenant's users, nor operators", async () => {
    const listed = await call('adminB', '/customer/users');
    expect(listed.body.users.map((u: { username: string }) => u.username)).toEqual(['um-admin-b']);
    for (const [method, body] of [
      ['PATCH', { password: 'hijacked-password-1' }],
      ['PATCH', { role: 'customer_viewer' }],
      ['PATCH', { disabled: true }],
      ['DELETE', undefined],
    ] as const) {
      expect((await call('adminB', '/customer/users/um-viewer-a', method, body)).status, method).toBe(404);
      expect((await call('adminB', '/customer/users/um-op-admin', method, body)).status, method).toBe(404);
    }
    expect(await canLogIn('um-viewer-a', 'hijacked-password-1')).toBe(false);
    expect((await call('viewerA', '/customer/users')).status).toBe(403);
    expect(
      (
        await call('viewerA', '/customer/users', 'POST', {
          username: 'x',
          password: 'long-enough-1',
          role: 'customer_viewer',
        })
      ).status,
    ).toBe(403);
  });

  it("an operator admin creates a tenant's first admin and operators; an operator may only read", async () => {
    expect((await call('opAdmin', '/operator/tenants', 'POST', { tenant_id: 'um-c', name: 'C' })).status).toBe(201);
    const first = await call('opAdmin', '/operator/users', 'POST', {
      username: 'um-first-c',
      password: 'first-admin-1',
      role: 'customer_admin',
      tenant_id: 'um-c',
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ tenant_id: 'um-c', role: 'customer_admin' });
    expect(await canLogIn('um-first-c', 'first-admin-1')).toBe(true);
    const nowhere = await call('opAdmin', '/operator/users', 'POST', {
      username: 'um-x',
      password: 'long-enough-1',
      role: 'customer_admin',
      tenant_id: 'um-nowhere',
    });
    expect(nowhere.body.detail).toMatch(/Tenant um-nowhere does not exist/);
    const kind = await call('opAdmin', '/operator/users/um-first-c', 'PATCH', { role: 'operator' });
    expect(kind.status).toBe(400);
    const ofC = await call('opAdmin', '/operator/users?tenant_filter=um-c');
    expect(ofC.body.users.map((u: { username: string }) => u.username)).toEqual(['um-first-c']);
    // Names and e-mails of every tenant's users are the operator admin's to see.
    expect((await call('operator', '/operator/users')).status).toBe(403);
    expect(
      (
        await call('operator', '/operator/users', 'POST', {
          username: 'um-y',
          password: 'long-enough-1',
          role: 'operator',
        })
      ).status,
    ).toBe(403);
  });

  it('refuses common, breached and published passwords wherever a person sets one', async () => {
    for (const password of ['qwerty12', 'Welcome2024!', 'pulse-demo', 'Password1', 'abcdefgh']) {
      const created = await call('adminA', '/customer/users', 'POST', {
        username: 'um-weak',
        password,
        role: 'customer_viewer',
      });
      expect(created, password).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/too easy/) } });
      const reset = await call('opAdmin', '/operator/users/um-viewer-a', 'PATCH', { password });
      expect(reset.status, password).toBe(400);
    }
    expect(await canLogIn('um-viewer-a', TEST_PASSWORD)).toBe(true);
  });

  it('seeds the demo users with the published demo password all the same', async () => {
    await seedDemoUsers(createUsers(pulse.db), ['um-demo']);
    expect(await canLogIn('um-demo-admin', DEMO_PASSWORD)).toBe(true);
  });

  it('takes passwords of up to 256 characters, as documented, and says so beyond', async () => {
    const longest = 'horse-battery-staple-'.repeat(13).slice(0, 256);
    expect((await call('adminA', '/customer/users/um-viewer-a', 'PATCH', { password: longest })).status).toBe(200);
    expect(await canLogIn('um-viewer-a', longest)).toBe(true);
    // 256 characters of two UTF-16 units each are 256 characters too.
    const keys = '🔑🗝🚪🏠'.repeat(64);
    expect((await call('opAdmin', '/operator/users/um-viewer-a', 'PATCH', { password: keys })).status).toBe(200);
    const tooLong = await call('adminA', '/customer/users/um-viewer-a', 'PATCH', { password: `${longest}x` });
    expect(tooLong).toMatchObject({ status: 400, body: { detail: 'password must be at most 256 characters' } });
    expect((await call('adminA', '/customer/users/um-viewer-a', 'PATCH', { password: TEST_PASSWORD })).status).toBe(
      200,
    );
  });

  it('answers a taken username alike whichever tenant holds it, naming none', async () => {
    const answers = [];
    for (const username of ['um-viewer-a', 'um-admin-b', 'um-op-admin']) {
      const taken = await call('adminA', '/customer/users', 'POST', {
        username,
        password: 'long-enough-1',
        role: 'customer_viewer',
      });
      answers.push({ status: taken.status, detail: taken.body.detail.replace(username, '<name>') });
    }
    expect(answers).toEqual(
      Array(3).fill({ status: 409, detail: 'The username <name> is not available; choose another' }),
    );
  });
});
