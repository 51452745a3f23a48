// The CLI's commands on the configured database, in one place for both ways they run: in the `pulse`
// process that opens the database, or — when a running Pulse owns the embedded database — inside that
// process, asked over its control route (ADR 017). Each returns what to print, so both print the same.
import type { Bus } from './bus/index.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { AppError } from './errors.js';
import { createUsers } from './identity/users.js';
import type { SecretBox } from './lib/secrets.js';
import type { Role } from './model/users.js';

export interface CommandContext {
  db: Database;
  config: Config;
  secrets: SecretBox;
  /** The running platform's bus: changes reach its caches at once. */
  bus?: Bus | undefined;
}

/** Lines to print, or a table (with what to say when it is empty). */
export type CommandOutput = { lines: string[] } | { rows: Record<string, string>[]; none: string };

const text = (value: unknown) => (value instanceof Date ? value.toISOString() : String(value ?? ''));
const table = (rows: object[], none: string): CommandOutput => ({
  rows: rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, text(value)]))),
  none,
});

async function provisioning(ctx: CommandContext) {
  const { createProvisioning } = await import('./provision/service.js');
  const { UNMANAGED_LOGINS } = await import('./broker/dynsec.js');
  return createProvisioning(ctx.db, {
    activationTtlMinutes: ctx.config.ACTIVATION_TTL_MINUTES,
    // The CLI registers and revokes (the broker's login follows at the next reconcile); it mints no token.
    logins: UNMANAGED_LOGINS,
    onDeviceChanged: (tenant_id, device_id) => ctx.bus?.publish('device.changed', { tenant_id, device_id }),
  });
}

export const commands = {
  async 'device create'(
    ctx: CommandContext,
    args: { tenant: string; device: string; site: string; fwVersion?: string; metadata: string },
  ): Promise<CommandOutput> {
    let metadata: unknown;
    try {
      metadata = JSON.parse(args.metadata);
    } catch {
      throw new AppError('INVALID_REQUEST', '--metadata must be a JSON object');
    }
    const { checkDeviceSpec } = await import('./model/device-spec.js');
    const checked = checkDeviceSpec({
      tenant_id: args.tenant,
      device_id: args.device,
      site_id: args.site,
      fw_version: args.fwVersion,
      metadata,
    });
    if ('error' in checked) throw new AppError('INVALID_REQUEST', checked.error);
    const { devices, errors } = await (await provisioning(ctx)).registerDevices([{ ...checked.spec, row: 1 }]);
    const issued = devices[0];
    if (!issued) throw new AppError('INVALID_REQUEST', errors[0]?.error ?? 'device was not registered');
    return { lines: [JSON.stringify(issued, null, 2)] };
  },

  async 'device list'(
    ctx: CommandContext,
    args: { tenant?: string; site?: string; status?: string; limit: number },
  ): Promise<CommandOutput> {
    const rows = await (
      await provisioning(ctx)
    ).listDevices({ tenant_id: args.tenant, site_id: args.site, status: args.status, limit: args.limit });
    return table(rows, 'no devices');
  },

  async 'device revoke'(ctx: CommandContext, args: { tenant: string; device: string }): Promise<CommandOutput> {
    await (await provisioning(ctx)).revokeDevice(args.tenant, args.device);
    return { lines: [`revoked ${args.tenant}/${args.device}`] };
  },

  async 'user create'(
    ctx: CommandContext,
    args: { username: string; role: Role; tenant?: string; password: string; email?: string },
  ): Promise<CommandOutput> {
    const created = await createUsers(ctx.db).create({ ...args, tenantId: args.tenant });
    return {
      lines: [`created ${created.username} (${created.role}${created.tenant_id ? ` of ${created.tenant_id}` : ''})`],
    };
  },

  async 'user list'(ctx: CommandContext): Promise<CommandOutput> {
    return table(await createUsers(ctx.db).list(), 'no users');
  },

  async 'user delete'(ctx: CommandContext, args: { username: string }): Promise<CommandOutput> {
    await createUsers(ctx.db).delete(args.username);
    return { lines: [`deleted ${args.username}`] };
  },

  async 'user passwd'(ctx: CommandContext, args: { username: string; password: string }): Promise<CommandOutput> {
    await createUsers(ctx.db).setPassword(args.username, args.password);
    return { lines: [`password of ${args.username} changed`] };
  },

  async token(ctx: CommandContext, args: { username: string; ttl?: number }): Promise<CommandOutput> {
    const { config: cfg, db, secrets } = ctx;
    if (cfg.OIDC_ISSUER) {
      throw new AppError(
        'INVALID_REQUEST',
        `OIDC_ISSUER is set: get tokens from ${cfg.OIDC_ISSUER}, not from pulse token`,
      );
    }
    const found = await createUsers(db).findByUsername(args.username);
    if (!found) throw new AppError('NOT_FOUND', `User ${args.username} not found`);
    const { ensureIssuerState, loadIssuerState, signAccessToken } = await import('./identity/issuer-state.js');
    // The issuer URL the server last served; before the server ever ran, the one it will serve.
    const state =
      (await loadIssuerState(db, secrets)) ??
      (await ensureIssuerState(
        db,
        secrets,
        `${cfg.PUBLIC_URL?.replace(/\/$/, '') ?? `http://localhost:${cfg.PORT}`}/oidc`,
      ));
    const token = await signAccessToken(state, found, {
      issuer: state.issuer!,
      audience: cfg.JWT_AUDIENCE,
      clientId: cfg.OIDC_CLIENT_ID,
      ttlSeconds: args.ttl ?? cfg.OIDC_ACCESS_TOKEN_TTL_SECONDS,
    });
    return { lines: [token] };
  },
};

export type CommandName = keyof typeof commands;

export const isCommandName = (name: string): name is CommandName => Object.hasOwn(commands, name);
