// Issue 29 item 7: the demo is safe by default. `pulse up` listens on loopback unless HOST says otherwise,
// and its demo logins (a published password) exist only in DEV, only on loopback unless DEMO_USERS=on.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { demoUsersWanted } from '../../src/app/demo.js';

const wanted = (env: Record<string, string>) => demoUsersWanted(loadConfig(env));

describe('demo safety', () => {
  it('leaves HOST unset, so `pulse up` picks loopback and `pulse run` every interface', () => {
    expect(loadConfig({}).HOST).toBeUndefined();
  });

  it('creates the demo logins in DEV on loopback only, unless asked', () => {
    expect(wanted({})).toBe(true);
    expect(wanted({ HOST: '127.0.0.1' })).toBe(true);
    expect(wanted({ HOST: '::1' })).toBe(true);
    expect(wanted({ HOST: '0.0.0.0' })).toBe(false);
    expect(wanted({ HOST: '192.168.1.20' })).toBe(false);
    expect(wanted({ HOST: '0.0.0.0', DEMO_USERS: 'on' })).toBe(true);
    expect(wanted({ DEMO_USERS: 'off' })).toBe(false);
    expect(wanted({ OIDC_ISSUER: 'https://sso.example.com/realms/pulse' })).toBe(false);
    const prod = { MODE: 'PROD', ADMIN_KEY: 'k'.repeat(20), SECRETS_KEY: 'ab'.repeat(32) };
    expect(wanted({ ...prod, HOST: '127.0.0.1' })).toBe(false);
  });

  it('refuses DEMO_USERS=on in PROD: the demo password is published', () => {
    const env = { MODE: 'PROD', ADMIN_KEY: 'k'.repeat(20), SECRETS_KEY: 'ab'.repeat(32), DEMO_USERS: 'on' };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/DEMO_USERS.*cannot be on when MODE=PROD/);
  });
});
