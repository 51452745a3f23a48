// Demo data for `pulse up`: a login per role in the two demo tenants (only where it is safe: demoUsersWanted), and with --simulate the original
// seed's five alert rules in each demo tenant (added once; a tenant that already has rules is left alone),
// so a first run shows alerts opening and closing.
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { NewUser, Users } from '../identity/users.js';
import { isLoopbackHost } from '../lib/listen.js';
import { createRule, listRules } from '../model/rules.js';

const DEMO_RULES = [
  { name: 'Low Battery Warning', metric_name: 'battery_pct', operator: 'LT', threshold: 25, severity: 2 },
  { name: 'Critical Battery', metric_name: 'battery_pct', operator: 'LT', threshold: 10, severity: 5 },
  { name: 'High Temperature', metric_name: 'temp_c', operator: 'GT', threshold: 35, severity: 3 },
  { name: 'Freezing Alert', metric_name: 'temp_c', operator: 'LT', threshold: 2, severity: 2 },
  { name: 'Weak Signal', metric_name: 'rssi_dbm', operator: 'LT', threshold: -85, severity: 4 },
];

export async function seedDemoRules(db: Database, tenantIds: string[]): Promise<number> {
  let added = 0;
  for (const tenantId of tenantIds) {
    added += await db.withTenant(tenantId, async (tx) => {
      if ((await listRules(tx, 1)).length > 0) return 0;
      for (const rule of DEMO_RULES) await createRule(tx, { ...rule, hysteresis: 1 });
      return DEMO_RULES.length;
    });
  }
  return added;
}

export const DEMO_PASSWORD = 'pulse-demo';

/** Where `pulse up` listens when HOST is unset: this machine only, since the demo's password is published. */
export const DEMO_HOST = '127.0.0.1';

/**
 * Whether `pulse up` creates the demo logins: never in PROD or with an external issuer, and with
 * DEMO_USERS=auto only while HTTP is on loopback — anyone who can reach the port knows the password.
 */
export function demoUsersWanted(config: Pick<Config, 'MODE' | 'OIDC_ISSUER' | 'DEMO_USERS' | 'HOST'>): boolean {
  if (config.MODE !== 'DEV' || config.OIDC_ISSUER || config.DEMO_USERS === 'off') return false;
  return config.DEMO_USERS === 'on' || isLoopbackHost(config.HOST ?? DEMO_HOST);
}

/** A user per role: an admin and a viewer in each demo tenant, and the two operator roles. */
export function demoUsers(tenantIds: string[]): NewUser[] {
  return [
    ...tenantIds.flatMap((tenantId) => [
      { username: `${tenantId}-admin`, role: 'customer_admin' as const, tenantId },
      { username: `${tenantId}-viewer`, role: 'customer_viewer' as const, tenantId },
    ]),
    { username: 'operator', role: 'operator' as const },
    { username: 'operator-admin', role: 'operator_admin' as const },
  ].map((user) => ({ ...user, password: DEMO_PASSWORD, email: `${user.username}@demo.pulse.local` }));
}

/** Creates the demo users that do not exist yet (a changed password is left alone). */
export async function seedDemoUsers(users: Users, tenantIds: string[]): Promise<NewUser[]> {
  const all = demoUsers(tenantIds);
  // The demo password is published, so it is known to everyone: allowed here, refused anywhere a person sets one.
  for (const user of all) await users.ensure(user, { allowGuessable: true });
  return all;
}
