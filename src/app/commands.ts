// The CLI's commands on the configured database, in one place for both ways they run: in the `pulse`
// process that opens the database, or — when a running Pulse owns the embedded database — inside that
// process, asked over its control route (ADR 017). Each returns what to print, so both print the same.
// Commands and jobs are an operator's work in one named tenant: a narrowed operator transaction. A command
// made here reaches its device through the running process's bus when there is one, else at the
// dispatcher's next sweep (COMMAND_SWEEP_SECONDS).
import type { Bus } from '../bus/index.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import { createUsers } from '../identity/users.js';
import type { SecretBox } from '../lib/secrets.js';
import type { Role } from '../model/users.js';
import { textTable } from '../lib/text-table.js';
import { isUuid } from '../lib/uuid.js';

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

/** The API's bounds (POST …/commands) and a wait the control route's HTTP call outlives. */
const MAX_WAIT_SECONDS = 300;
const SHOWN_EXECUTIONS = 100;
const CREATED_BY = 'pulse CLI';

/** A command's params from --params, checked as the API checks them. */
async function commandParams(json: string | undefined): Promise<unknown> {
  let params: unknown;
  try {
    params = JSON.parse(json ?? '{}');
  } catch {
    throw new AppError('INVALID_REQUEST', `--params must be JSON, such as '{"seconds": 30}'`);
  }
  const { documentProblem } = await import('../model/command-protocol.js');
  const problem = documentProblem(params, '--params');
  if (problem) throw new AppError('INVALID_REQUEST', problem);
  return params;
}

function jobId(id: string): string {
  if (!isUuid(id)) throw new AppError('INVALID_REQUEST', `${id} is not a job id: pulse job list <tenant> shows them`);
  return id;
}

/** A command's answer in one cell: its error, else its result. */
const answer = (command: { result: unknown; error: string | null }) =>
  command.error ?? (command.result === null || command.result === undefined ? '' : JSON.stringify(command.result));

async function provisioning(ctx: CommandContext) {
  const { createProvisioning } = await import('../provision/service.js');
  const { UNMANAGED_LOGINS } = await import('../broker/dynsec.js');
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
    const { checkDeviceSpec } = await import('../model/device-spec.js');
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

  async 'command send'(
    ctx: CommandContext,
    args: { tenant: string; device: string; name: string; params?: string; expires?: number; wait: number },
  ): Promise<CommandOutput> {
    if (args.wait > MAX_WAIT_SECONDS)
      throw new AppError(
        'INVALID_REQUEST',
        `--wait is at most ${MAX_WAIT_SECONDS} seconds: pulse command list shows later answers`,
      );
    const params = await commandParams(args.params);
    const { narrow } = await import('../db/database.js');
    const commands = await import('../model/commands.js');
    const created = await ctx.db.withOperator((tx) =>
      commands.sendCommand(narrow(tx, args.tenant), {
        device_id: args.device,
        name: args.name,
        params,
        expires_in_seconds: args.expires,
        created_by: CREATED_BY,
      }),
    );
    ctx.bus?.publish('commands.queued', [{ tenant_id: args.tenant, device_id: args.device }]);
    if (args.wait === 0) return { lines: [JSON.stringify(created, null, 2)] };
    const { createInProcessBus } = await import('../bus/index.js');
    const { createLogger } = await import('./log.js');
    const { waitForCommand } = await import('../api/commands.js');
    // Without the running process's bus nobody announces the answer: a bus of its own hears nothing, and
    // the wait reads the command every second.
    const bus = ctx.bus ?? createInProcessBus(createLogger('silent'));
    const read = () => ctx.db.withOperator((tx) => commands.getCommand(narrow(tx, args.tenant), created.command_id));
    const answered = await waitForCommand(bus, read, created.command_id, args.wait * 1000);
    return { lines: [JSON.stringify(answered ?? created, null, 2)] };
  },

  async 'command list'(
    ctx: CommandContext,
    args: { tenant: string; device: string; limit: number },
  ): Promise<CommandOutput> {
    const { narrow } = await import('../db/database.js');
    const { listCommands } = await import('../model/commands.js');
    const listed = await ctx.db.withOperator((tx) =>
      listCommands(narrow(tx, args.tenant), args.device, { limit: Math.max(1, args.limit) }),
    );
    return table(
      listed.map((command) => ({
        command_id: command.command_id,
        name: command.name,
        state: command.state,
        created_at: command.created_at,
        finished_at: command.finished_at,
        answer: answer(command),
      })),
      `no commands for ${args.tenant}/${args.device}`,
    );
  },

  async 'job list'(ctx: CommandContext, args: { tenant: string; limit: number }): Promise<CommandOutput> {
    const { narrow } = await import('../db/database.js');
    const { listJobs } = await import('../model/jobs.js');
    const listed = await ctx.db.withOperator((tx) => listJobs(narrow(tx, args.tenant), Math.max(1, args.limit)));
    return table(
      listed.map((job) => ({
        job_id: job.job_id,
        name: job.name,
        kind: job.kind,
        state: job.state,
        devices: job.counts.total,
        succeeded: job.counts.SUCCEEDED,
        failed: job.counts.FAILED + job.counts.TIMED_OUT,
        left: job.counts.PENDING + job.counts.IN_PROGRESS,
        created_at: job.created_at,
      })),
      `no jobs in tenant ${args.tenant}`,
    );
  },

  async 'job show'(ctx: CommandContext, args: { tenant: string; job: string }): Promise<CommandOutput> {
    const id = jobId(args.job);
    const { narrow } = await import('../db/database.js');
    const jobs = await import('../model/jobs.js');
    const found = await ctx.db.withOperator(async (operatorTx) => {
      const tx = narrow(operatorTx, args.tenant);
      const job = await jobs.getJob(tx, id);
      return job && { job, executions: await jobs.listExecutions(tx, id, { limit: SHOWN_EXECUTIONS, offset: 0 }) };
    });
    if (!found) throw new AppError('NOT_FOUND', `No job ${id} in tenant ${args.tenant}`);
    const { job, executions } = found;
    const rows = executions.map((execution) => ({
      device_id: execution.device_id,
      state: execution.state,
      progress: text(execution.progress),
      started_at: text(execution.started_at),
      finished_at: text(execution.finished_at),
      answer: answer(execution),
    }));
    const more = job.counts.total - executions.length;
    return {
      lines: [
        JSON.stringify(job, null, 2),
        '',
        ...(rows.length > 0 ? textTable(rows) : []),
        ...(more > 0 ? [`… and ${more} more devices (GET /customer/jobs/${id}/executions pages through them)`] : []),
      ],
    };
  },

  async 'job cancel'(ctx: CommandContext, args: { tenant: string; job: string }): Promise<CommandOutput> {
    const id = jobId(args.job);
    const { narrow } = await import('../db/database.js');
    const jobs = await import('../model/jobs.js');
    const outcome = await ctx.db.withOperator(async (operatorTx) => {
      const tx = narrow(operatorTx, args.tenant);
      const canceled = await jobs.stopJob(tx, id, 'CANCELED', `canceled by the ${CREATED_BY}`);
      return { canceled, job: await jobs.getJob(tx, id) };
    });
    if (!outcome.job) throw new AppError('NOT_FOUND', `No job ${id} in tenant ${args.tenant}`);
    if (!outcome.canceled)
      throw new AppError('CONFLICT', `The job is ${outcome.job.state}: only a RUNNING job can be canceled`);
    if (outcome.canceled.length > 0) ctx.bus?.publish('commands.changed', outcome.canceled);
    const withdrawn = outcome.canceled.length;
    return {
      lines: [
        `canceled job "${outcome.job.name}" (${id})${withdrawn > 0 ? `; withdrew ${withdrawn} command(s) its devices had not confirmed` : ''}`,
      ],
    };
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
    const { ensureIssuerState, loadIssuerState, signAccessToken } = await import('../identity/issuer-state.js');
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
