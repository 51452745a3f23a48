// The built-in issuer's sign-in failure limit counts per account and client address (issue 36, item 9):
// wrong passwords from one address lock that address out of the account, not everyone. Both engines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/connection.js';
import { ENGINES } from '../helpers/databases.js';
import { TEST_PASSWORD, tokenFor } from '../helpers/identity.js';
import { Browser, login } from '../helpers/oidc-browser.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

describe.each<Engine>(ENGINES)('sign-in failure limit on %s', (engine) => {
  let pulse: TestPlatform;
  beforeAll(async () => {
    // The test's requests come through 127.0.0.1, as through a proxy naming the client's address.
    pulse = await startTestPlatform(engine, { LOGIN_FAILURE_LIMIT: '3', TRUST_PROXY: '127.0.0.1' }, ['api']);
    await tokenFor(pulse, { username: 'sl-admin', role: 'operator_admin' });
  }, 90_000);
  afterAll(() => pulse?.close());

  const signInFrom = async (address: string, password: string) =>
    (await login(pulse.base, new Browser({ 'x-forwarded-for': address }), 'sl-admin', password)).submitted;

  it('wrong passwords from one address lock that address out of the account, not another', async () => {
    for (let i = 0; i < 3; i += 1)
      expect((await signInFrom('203.0.113.7', 'wrong-password')).response.status).toBe(401);
    const locked = await signInFrom('203.0.113.7', TEST_PASSWORD);
    expect(locked.response.status).toBe(429);
    expect(await locked.response.text()).toContain('Too many failed sign-ins');
    // The account's owner, elsewhere, still signs in.
    expect((await signInFrom('198.51.100.20', TEST_PASSWORD)).url).toContain('/app/callback');
  });
});
