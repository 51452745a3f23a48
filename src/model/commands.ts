// Commands to devices and each device's desired/reported configuration (issue 30, ADR 027): their SQL.
// Customers create, read and cancel under row-level security (TenantScope); the sender, ingest's reply
// handling and the sweeps work across tenants as the pipeline (ServiceTx). Every transition is one
// conditional UPDATE, so two instances racing over the same command change it once.
import type { CommandChange, CommandState, DeviceKey } from '../contracts/messages.js';
import type { ServiceTx, TenantScope } from '../db/database.js';
import { AppError } from '../errors.js';
import {
  COMMAND_NAME,
  documentProblem,
  FIRMWARE_COMMAND,
  firmwareOutcome,
  type CommandMessage,
} from './command-protocol.js';

export const OPEN_STATES: readonly CommandState[] = ['QUEUED', 'SENT', 'DELIVERED'];
export const isFinished = (state: CommandState) => !OPEN_STATES.includes(state);

export interface Command {
  command_id: string;
  tenant_id: string;
  device_id: string;
  name: string;
  params: unknown;
  state: CommandState;
  created_at: Date;
  expires_at: Date;
  sent_at: Date | null;
  delivered_at: Date | null;
  finished_at: Date | null;
  send_count: number;
  progress: string | null;
  progress_at: Date | null;
  result: unknown;
  error: string | null;
  created_by: string | null;
  job_id: string | null;
}

const COLUMNS = `command_id, tenant_id, device_id, name, params, state, created_at, expires_at, sent_at,
  delivered_at, finished_at, send_count, progress, progress_at, result, error, created_by, job_id`;

const CHANGE_COLUMNS = 'tenant_id, device_id, command_id, state, job_id';

export interface NewCommand {
  device_id: string;
  name: string;
  params: unknown;
  expires_at: Date;
  created_by: string | null;
}

export const DEFAULT_EXPIRY_SECONDS = 86_400;
export const MAX_EXPIRY_SECONDS = 30 * 86_400;

/** Refuses work for a device that is not there, or cannot receive anything (revoked). */
export async function requireActiveDevice(tx: TenantScope, deviceId: string): Promise<void> {
  const status = await deviceStatus(tx, deviceId);
  if (status === null) throw new AppError('NOT_FOUND', `No device ${deviceId} in this tenant`);
  if (status !== 'ACTIVE') throw new AppError('CONFLICT', `Device ${deviceId} is ${status}: it can receive nothing`);
}

/**
 * A user's command to one device (API, CLI): checked — its name, its parameters, its expiry, the device —
 * and queued. `firmware_update` is the firmware jobs' alone.
 */
export async function sendCommand(
  tx: TenantScope,
  command: {
    device_id: string;
    name: string;
    params: unknown;
    expires_in_seconds?: number | undefined;
    created_by: string | null;
  },
): Promise<Command> {
  if (!COMMAND_NAME.test(command.name))
    throw new AppError(
      'INVALID_REQUEST',
      `${command.name} is no command name: a letter, then up to 63 letters, digits, _ . or -`,
    );
  if (command.name === FIRMWARE_COMMAND)
    throw new AppError(
      'INVALID_REQUEST',
      `${FIRMWARE_COMMAND} is sent by firmware update jobs: create a job of kind firmware`,
    );
  const problem = documentProblem(command.params, 'params');
  if (problem) throw new AppError('INVALID_REQUEST', problem);
  const expires = command.expires_in_seconds ?? DEFAULT_EXPIRY_SECONDS;
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRY_SECONDS)
    throw new AppError('INVALID_REQUEST', `The expiry must be 1 to ${MAX_EXPIRY_SECONDS} seconds (30 days)`);
  await requireActiveDevice(tx, command.device_id);
  return createCommand(tx, {
    device_id: command.device_id,
    name: command.name,
    params: command.params ?? {},
    expires_at: new Date(Date.now() + expires * 1000),
    created_by: command.created_by,
  });
}

export async function createCommand(tx: TenantScope, command: NewCommand): Promise<Command> {
  const { rows } = await tx.query<Command>(
    `INSERT INTO device_commands (tenant_id, device_id, name, params, expires_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [
      tx.tenantId,
      command.device_id,
      command.name,
      JSON.stringify(command.params),
      command.expires_at,
      command.created_by,
    ],
  );
  return rows[0]!;
}

/** The registry status of one of the tenant's devices (ACTIVE, REVOKED…), null when it has none such. */
export async function deviceStatus(tx: TenantScope, deviceId: string): Promise<string | null> {
  const { rows } = await tx.query<{ status: string }>(
    `SELECT status FROM device_registry WHERE tenant_id = $1 AND device_id = $2`,
    [tx.tenantId, deviceId],
  );
  return rows[0]?.status ?? null;
}

export async function getCommand(tx: TenantScope, commandId: string): Promise<Command | null> {
  const { rows } = await tx.query<Command>(
    `SELECT ${COLUMNS} FROM device_commands WHERE tenant_id = $1 AND command_id = $2`,
    [tx.tenantId, commandId],
  );
  return rows[0] ?? null;
}

/** A device's commands, newest first; `before` pages back by creation time. */
export async function listCommands(
  tx: TenantScope,
  deviceId: string,
  page: { limit: number; before?: Date | undefined },
): Promise<Command[]> {
  const { rows } = await tx.query<Command>(
    `SELECT ${COLUMNS} FROM device_commands
     WHERE tenant_id = $1 AND device_id = $2 AND ($3::timestamptz IS NULL OR created_at < $3)
     ORDER BY created_at DESC LIMIT $4`,
    [tx.tenantId, deviceId, page.before ?? null, page.limit],
  );
  return rows;
}

/** Cancels a command its device has not confirmed yet (QUEUED or SENT); null when it is past that. */
export async function cancelCommand(tx: TenantScope, commandId: string): Promise<Command | null> {
  const { rows } = await tx.query<Command>(
    `UPDATE device_commands SET state = 'CANCELED', finished_at = clock_timestamp()
     WHERE tenant_id = $1 AND command_id = $2 AND state IN ('QUEUED', 'SENT') RETURNING ${COLUMNS}`,
    [tx.tenantId, commandId],
  );
  return rows[0] ?? null;
}

export const commandMessage = (
  command: Pick<Command, 'command_id' | 'name' | 'params' | 'created_at' | 'expires_at'>,
): CommandMessage => ({
  id: command.command_id,
  name: command.name,
  params: command.params,
  created_at: command.created_at.toISOString(),
  expires_at: command.expires_at.toISOString(),
});

// --- The pipeline's side -------------------------------------------------------------------------

/**
 * A device connected for commands (online) or went away. Going away puts its SENT commands back in the
 * queue: nobody knows whether they arrived, and the next connection sends them again (same ids).
 * Returns whether anything changed.
 */
export async function setOnline(tx: ServiceTx, device: DeviceKey, online: boolean): Promise<boolean> {
  // Only devices that use commands have a row: the many that never do cost nothing when they disconnect.
  const { rowCount } = online
    ? await tx.query(
        `INSERT INTO device_control (tenant_id, device_id, online, online_changed_at)
         VALUES ($1, $2, true, clock_timestamp())
         ON CONFLICT (tenant_id, device_id) DO UPDATE SET online = true, online_changed_at = clock_timestamp()`,
        [device.tenant_id, device.device_id],
      )
    : await tx.query(
        `UPDATE device_control SET online = false, online_changed_at = clock_timestamp()
         WHERE tenant_id = $1 AND device_id = $2 AND online`,
        [device.tenant_id, device.device_id],
      );
  if (!online && rowCount)
    await tx.query(
      `UPDATE device_commands SET state = 'QUEUED' WHERE tenant_id = $1 AND device_id = $2 AND state = 'SENT'`,
      [device.tenant_id, device.device_id],
    );
  return (rowCount ?? 0) > 0;
}

/**
 * Every device offline: the embedded broker starts with no connection, so none is connected for commands,
 * whatever the rows said when the process last stopped. Their SENT commands go back to QUEUED.
 */
export async function allOffline(tx: ServiceTx): Promise<number> {
  await tx.query(`UPDATE device_commands SET state = 'QUEUED' WHERE state = 'SENT'`);
  const { rowCount } = await tx.query(
    `UPDATE device_control SET online = false, online_changed_at = clock_timestamp() WHERE online`,
  );
  return rowCount ?? 0;
}

export interface Outgoing {
  tenant_id: string;
  device_id: string;
  commands: CommandMessage[];
  /** The desired configuration to send, when the device should get it. */
  config: { version: number; desired: unknown } | null;
}

/**
 * What to send now to these devices, taken in one transaction: for each one online, its QUEUED commands
 * oldest first while fewer than `maxInFlight` are SENT or DELIVERED (they become SENT), its SENT ones again
 * when `resend` (it has just connected), and its desired configuration when it has not been sent (or
 * always when `resend`). Devices are locked in key order, so instances serving the same device take turns
 * and never exceed the bound between them.
 */
export async function takeOutgoing(
  tx: ServiceTx,
  devices: DeviceKey[],
  options: { maxInFlight: number; resend: boolean },
): Promise<Outgoing[]> {
  if (devices.length === 0) return [];
  const { rows: online } = await tx.query<
    DeviceKey & { desired: unknown; desired_version: number; config_sent_version: number }
  >(
    `SELECT c.tenant_id, c.device_id, c.desired, c.desired_version, c.config_sent_version
     FROM device_control c JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, device_id)
       ON c.tenant_id = k.tenant_id AND c.device_id = k.device_id
     WHERE c.online ORDER BY c.tenant_id, c.device_id FOR UPDATE OF c`,
    [devices.map((d) => d.tenant_id), devices.map((d) => d.device_id)],
  );
  if (online.length === 0) return [];
  const { rows: claimed } = await tx.query<Command>(
    `WITH open AS (
       SELECT c.command_id, c.state,
              count(*) FILTER (WHERE c.state IN ('SENT', 'DELIVERED')) OVER w AS in_flight,
              count(*) FILTER (WHERE c.state = 'QUEUED') OVER (w ORDER BY c.created_at, c.command_id) AS queued_rank
       FROM device_commands c JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, device_id)
         ON c.tenant_id = k.tenant_id AND c.device_id = k.device_id
       WHERE c.state IN ('QUEUED', 'SENT', 'DELIVERED') AND c.expires_at > clock_timestamp()
       WINDOW w AS (PARTITION BY c.tenant_id, c.device_id)
     )
     UPDATE device_commands d
     SET state = 'SENT', sent_at = clock_timestamp(), send_count = d.send_count + 1
     FROM open o
     WHERE d.command_id = o.command_id
       AND ((o.state = 'SENT' AND $4) OR (o.state = 'QUEUED' AND o.in_flight + o.queued_rank <= $3))
     RETURNING ${prefixed('d')}`,
    [online.map((d) => d.tenant_id), online.map((d) => d.device_id), options.maxInFlight, options.resend],
  );
  const configured = online.filter(
    (d) => d.desired_version > 0 && (options.resend || d.desired_version > d.config_sent_version),
  );
  if (configured.length > 0) {
    await tx.query(
      `UPDATE device_control c SET config_sent_version = k.version
       FROM unnest($1::text[], $2::text[], $3::int[]) AS k(tenant_id, device_id, version)
       WHERE c.tenant_id = k.tenant_id AND c.device_id = k.device_id`,
      [
        configured.map((d) => d.tenant_id),
        configured.map((d) => d.device_id),
        configured.map((d) => d.desired_version),
      ],
    );
  }
  const byDevice = new Map<string, Command[]>();
  for (const command of claimed.sort((a, b) => a.created_at.getTime() - b.created_at.getTime())) {
    const key = `${command.tenant_id}\u0000${command.device_id}`;
    byDevice.set(key, [...(byDevice.get(key) ?? []), command]);
  }
  return online
    .map((d) => ({
      tenant_id: d.tenant_id,
      device_id: d.device_id,
      commands: (byDevice.get(`${d.tenant_id}\u0000${d.device_id}`) ?? []).map(commandMessage),
      config: configured.includes(d) ? { version: d.desired_version, desired: d.desired } : null,
    }))
    .filter((out) => out.commands.length > 0 || out.config !== null);
}

const prefixed = (alias: string) =>
  COLUMNS.split(',')
    .map((column) => `${alias}.${column.trim()}`)
    .join(', ');

/** A publish that failed: what it took goes back to QUEUED for the next try. */
export async function putBack(tx: ServiceTx, commandIds: string[]): Promise<void> {
  if (commandIds.length === 0) return;
  await tx.query(`UPDATE device_commands SET state = 'QUEUED' WHERE command_id = ANY ($1::uuid[]) AND state = 'SENT'`, [
    commandIds,
  ]);
}

/**
 * What an HTTP device fetches: its waiting commands, oldest first, up to `maxInFlight` not yet answered —
 * fetched is delivered — and its desired configuration when it has not applied the latest.
 */
export async function fetchForDevice(
  tx: ServiceTx,
  device: DeviceKey,
  maxInFlight: number,
  /** 'unsent': only a version not fetched yet (a long poll waiting for news); 'unapplied': any not applied yet. */
  configWanted: 'unsent' | 'unapplied' = 'unapplied',
): Promise<{ commands: CommandChange[]; messages: CommandMessage[]; config: Outgoing['config'] }> {
  const { rows } = await tx.query<Command>(
    `WITH open AS (
       SELECT command_id, state,
              count(*) FILTER (WHERE state = 'DELIVERED') OVER () AS in_flight,
              count(*) FILTER (WHERE state IN ('QUEUED', 'SENT')) OVER (ORDER BY created_at, command_id) AS rank
       FROM device_commands
       WHERE tenant_id = $1 AND device_id = $2 AND state IN ('QUEUED', 'SENT', 'DELIVERED')
         AND expires_at > clock_timestamp()
     )
     UPDATE device_commands d SET state = 'DELIVERED', delivered_at = clock_timestamp()
     FROM open o
     WHERE d.command_id = o.command_id AND o.state IN ('QUEUED', 'SENT') AND o.in_flight + o.rank <= $3
     RETURNING ${prefixed('d')}`,
    [device.tenant_id, device.device_id, maxInFlight],
  );
  rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
  const { rows: configs } = await tx.query<{ desired: unknown; desired_version: number }>(
    `UPDATE device_control SET config_sent_version = desired_version
     WHERE tenant_id = $1 AND device_id = $2 AND desired_version > COALESCE(reported_version, 0)
       AND ($3 = 'unapplied' OR desired_version > config_sent_version)
     RETURNING desired, desired_version`,
    [device.tenant_id, device.device_id, configWanted],
  );
  const config = configs[0] ? { version: configs[0].desired_version, desired: configs[0].desired } : null;
  return { commands: rows.map(changeOf), messages: rows.map(commandMessage), config };
}

/** What a transition tells the rest of Pulse, from a command or a row holding at least as much. */
export const changeOf = (command: CommandChange): CommandChange => ({
  tenant_id: command.tenant_id,
  device_id: command.device_id,
  command_id: command.command_id,
  state: command.state,
  job_id: command.job_id,
});

/** The device has the command: DELIVERED (once; later acks change nothing). */
export async function recordAck(tx: ServiceTx, device: DeviceKey, commandId: string): Promise<CommandChange | null> {
  const { rows } = await tx.query<CommandChange>(
    `UPDATE device_commands SET state = 'DELIVERED', delivered_at = clock_timestamp()
     WHERE tenant_id = $1 AND device_id = $2 AND command_id = $3 AND state IN ('QUEUED', 'SENT')
     RETURNING ${CHANGE_COLUMNS}`,
    [device.tenant_id, device.device_id, commandId],
  );
  return rows[0] ?? null;
}

/** The device's answer ends the command (an answer also says it arrived); a late one changes nothing. */
export async function recordResult(
  tx: ServiceTx,
  device: DeviceKey,
  answer: { id: string; status: 'SUCCEEDED' | 'FAILED'; result: unknown; error: string | null; progress?: string },
): Promise<CommandChange | null> {
  const { rows } = await tx.query<CommandChange & { name: string; params: { version?: unknown } }>(
    `UPDATE device_commands
     SET state = $4, result = $5, error = $6, finished_at = clock_timestamp(),
         delivered_at = COALESCE(delivered_at, clock_timestamp()),
         progress = COALESCE($7, progress), progress_at = CASE WHEN $7::text IS NULL THEN progress_at ELSE clock_timestamp() END
     WHERE tenant_id = $1 AND device_id = $2 AND command_id = $3 AND state IN ('QUEUED', 'SENT', 'DELIVERED')
     RETURNING ${CHANGE_COLUMNS}, name, params`,
    [
      device.tenant_id,
      device.device_id,
      answer.id,
      answer.status,
      JSON.stringify(answer.result),
      answer.error,
      answer.progress ?? null,
    ],
  );
  const changed = rows[0];
  if (changed?.state === 'SUCCEEDED' && changed.name === FIRMWARE_COMMAND)
    await recordFirmware(tx, device, installedVersion(answer.result) ?? changed.params.version);
  return changed ? changeOf(changed) : null;
}

/** A step of a long command (a firmware update's DOWNLOADING…); UPDATED and FAILED end a firmware update. */
export async function recordProgress(
  tx: ServiceTx,
  device: DeviceKey,
  report: { id: string; state: string; detail: unknown },
): Promise<CommandChange | null> {
  const { rows: commands } = await tx.query<{ name: string }>(
    `SELECT name FROM device_commands WHERE tenant_id = $1 AND device_id = $2 AND command_id = $3`,
    [device.tenant_id, device.device_id, report.id],
  );
  const outcome = commands[0]?.name === FIRMWARE_COMMAND ? firmwareOutcome(report.state) : undefined;
  if (outcome) {
    const error = outcome === 'FAILED' ? failureText(report.detail) : null;
    return recordResult(tx, device, {
      id: report.id,
      status: outcome,
      result: report.detail,
      error,
      progress: report.state,
    });
  }
  const { rows } = await tx.query<CommandChange>(
    `UPDATE device_commands
     SET progress = $4, progress_at = clock_timestamp(), result = COALESCE($5, result),
         state = CASE WHEN state IN ('QUEUED', 'SENT') THEN 'DELIVERED' ELSE state END,
         delivered_at = COALESCE(delivered_at, clock_timestamp())
     WHERE tenant_id = $1 AND device_id = $2 AND command_id = $3 AND state IN ('QUEUED', 'SENT', 'DELIVERED')
     RETURNING ${CHANGE_COLUMNS}`,
    [
      device.tenant_id,
      device.device_id,
      report.id,
      report.state,
      report.detail === null ? null : JSON.stringify(report.detail),
    ],
  );
  return rows[0] ?? null;
}

const failureText = (detail: unknown) =>
  typeof detail === 'object' && detail !== null && typeof (detail as { error?: unknown }).error === 'string'
    ? (detail as { error: string }).error.slice(0, 1000)
    : 'the device reported FAILED';

/** The version a device says it runs now (`{"fw_version": …}` in its answer), if it says. */
const installedVersion = (result: unknown) => {
  const version = (result as { fw_version?: unknown } | null)?.fw_version;
  return typeof version === 'string' && version.length <= 100 ? version : undefined;
};

/** A firmware update that succeeded: the registry records the version the device installed. */
async function recordFirmware(tx: ServiceTx, device: DeviceKey, version: unknown): Promise<void> {
  if (typeof version !== 'string') return;
  await tx.query(
    `UPDATE device_registry SET fw_version = $3, updated_at = now() WHERE tenant_id = $1 AND device_id = $2`,
    [device.tenant_id, device.device_id, version],
  );
}

/** Commands whose time ran out before they finished: EXPIRED. */
export async function expireCommands(tx: ServiceTx, limit = 10_000): Promise<CommandChange[]> {
  const { rows } = await tx.query<CommandChange>(
    `UPDATE device_commands SET state = 'EXPIRED', finished_at = clock_timestamp(),
       error = CASE WHEN state = 'DELIVERED' THEN 'no result before it expired' ELSE 'not delivered before it expired' END
     WHERE command_id IN (
       SELECT command_id FROM device_commands
       WHERE state IN ('QUEUED', 'SENT', 'DELIVERED') AND expires_at <= clock_timestamp()
       ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING ${CHANGE_COLUMNS}`,
    [limit],
  );
  return rows;
}

/**
 * Online devices with something to send: QUEUED commands, or a desired configuration not sent yet. The
 * sweep's catch-all for the events a bus may lose.
 */
export async function devicesWithWork(tx: ServiceTx, limit = 1000): Promise<DeviceKey[]> {
  const { rows } = await tx.query<DeviceKey>(
    `SELECT c.tenant_id, c.device_id FROM device_control c
     WHERE c.online AND (c.desired_version > c.config_sent_version OR EXISTS (
       SELECT 1 FROM device_commands d
       WHERE d.tenant_id = c.tenant_id AND d.device_id = c.device_id AND d.state = 'QUEUED'
         AND d.expires_at > clock_timestamp()))
     LIMIT $1`,
    [limit],
  );
  return rows;
}

// --- Configuration --------------------------------------------------------------------------------

export interface DeviceConfig {
  device_id: string;
  desired: Record<string, unknown>;
  desired_version: number;
  desired_at: Date | null;
  desired_by: string | null;
  reported: Record<string, unknown> | null;
  reported_version: number | null;
  reported_at: Date | null;
  out_of_sync_since: Date | null;
  online: boolean;
  online_changed_at: Date | null;
}

const CONFIG_COLUMNS = `device_id, desired, desired_version, desired_at, desired_by, reported, reported_version,
  reported_at, out_of_sync_since, online, online_changed_at`;

export async function getConfig(tx: TenantScope, deviceId: string): Promise<DeviceConfig | null> {
  const { rows } = await tx.query<DeviceConfig>(
    `SELECT ${CONFIG_COLUMNS} FROM device_control WHERE tenant_id = $1 AND device_id = $2`,
    [tx.tenantId, deviceId],
  );
  return rows[0] ?? null;
}

/**
 * Sets the desired configuration of these devices, each to `next(current)`, as one new version each;
 * out of sync from now unless already. Returns the devices' new versions.
 */
export async function setDesired(
  tx: TenantScope,
  deviceIds: string[],
  next: (current: Record<string, unknown>) => Record<string, unknown>,
  by: string | null,
): Promise<Map<string, number>> {
  if (deviceIds.length === 0) return new Map();
  await tx.query(
    `INSERT INTO device_control (tenant_id, device_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
    [tx.tenantId, deviceIds],
  );
  const { rows } = await tx.query<{ device_id: string; desired: Record<string, unknown> }>(
    `SELECT device_id, desired FROM device_control WHERE tenant_id = $1 AND device_id = ANY ($2::text[])
     ORDER BY device_id FOR UPDATE`,
    [tx.tenantId, deviceIds],
  );
  const { rows: updated } = await tx.query<{ device_id: string; desired_version: number }>(
    `UPDATE device_control c
     SET desired = k.desired, desired_version = c.desired_version + 1, desired_at = clock_timestamp(), desired_by = $4,
         out_of_sync_since = COALESCE(c.out_of_sync_since, clock_timestamp())
     FROM unnest($2::text[], $3::jsonb[]) AS k(device_id, desired)
     WHERE c.tenant_id = $1 AND c.device_id = k.device_id
     RETURNING c.device_id, c.desired_version`,
    [tx.tenantId, rows.map((r) => r.device_id), rows.map((r) => JSON.stringify(next(r.desired))), by],
  );
  return new Map(updated.map((r) => [r.device_id, r.desired_version]));
}

/** What the device says it applied; in sync again once it applied the latest version. */
export async function recordReported(
  tx: ServiceTx,
  device: DeviceKey,
  report: { version: number; reported: Record<string, unknown> },
): Promise<void> {
  await tx.query(
    `INSERT INTO device_control (tenant_id, device_id, reported, reported_version, reported_at)
     VALUES ($1, $2, $3, $4, clock_timestamp())
     ON CONFLICT (tenant_id, device_id) DO UPDATE
     SET reported = $3, reported_version = $4, reported_at = clock_timestamp(),
         out_of_sync_since = CASE WHEN $4 >= device_control.desired_version THEN NULL
                                  ELSE device_control.out_of_sync_since END`,
    [device.tenant_id, device.device_id, JSON.stringify(report.reported), report.version],
  );
}
