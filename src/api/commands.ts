// Commands and desired configuration of one device (issue 30, ADR 027), for customer_admin in its own
// tenant and operator_admin in any (the same DeviceScope as device management); every customer role reads
// its tenant's. A command is stored QUEUED and the sender hears of it after the commit; `?wait` makes the
// call two-way: it answers with the device's result when it comes in time.
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Bus } from '../bus/index.js';
import { COMMAND_STATES } from '../contracts/messages.js';
import { AppError } from '../errors.js';
import type { App } from '../http/server.js';
import { JsonObject, Nullable, Obj, OneOf, Timestamp } from '../lib/schema.js';
import { TokenBuckets } from '../lib/rate-limit.js';
import * as commands from '../model/commands.js';
import { COMMAND_NAME, configDelta, documentProblem, mergePatch } from '../model/command-protocol.js';
import { displayName } from './auth.js';
import { principalOf } from './guard.js';
import type { DeviceScope } from './devices.js';
import { noteAudit } from './audit-note.js';

const MAX_WAIT_SECONDS = 60;
/** A waiting call looks at the database this often too: the bus's hints may be lost between processes. */
const RECHECK_MS = 1000;

export const CommandView = Obj({
  command_id: Type.String(),
  tenant_id: Type.String(),
  device_id: Type.String(),
  name: Type.String(),
  params: Type.Unknown(),
  state: OneOf(COMMAND_STATES),
  created_at: Timestamp,
  expires_at: Timestamp,
  sent_at: Nullable(Timestamp),
  delivered_at: Nullable(Timestamp),
  finished_at: Nullable(Timestamp),
  send_count: Type.Integer(),
  progress: Nullable(Type.String()),
  progress_at: Nullable(Timestamp),
  result: Type.Unknown(),
  error: Nullable(Type.String()),
  created_by: Nullable(Type.String()),
  job_id: Nullable(Type.String()),
});

export const ConfigView = Obj({
  device_id: Type.String(),
  desired: JsonObject,
  desired_version: Type.Integer(),
  desired_at: Nullable(Timestamp),
  desired_by: Nullable(Type.String()),
  reported: Nullable(JsonObject),
  reported_version: Nullable(Type.Integer()),
  reported_at: Nullable(Timestamp),
  delta: Type.Array(Type.String(), { description: 'top-level keys whose desired and reported values differ' }),
  in_sync: Type.Boolean(),
  out_of_sync_since: Nullable(Timestamp),
  online: Type.Boolean({ description: 'connected for commands now (MQTT)' }),
  online_changed_at: Nullable(Timestamp),
});

const CreateCommand = Type.Object(
  {
    name: Type.String({
      pattern: COMMAND_NAME.source,
      description: 'what the device switches on: reboot, set_interval…',
    }),
    params: Type.Optional(Type.Unknown({ description: 'any JSON, at most 16 KiB' })),
    expires_in_seconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: commands.MAX_EXPIRY_SECONDS,
        description: 'how long it may wait for its device; default one day',
      }),
    ),
  },
  { additionalProperties: false },
);

/** A command's parameters or a configuration document a user gives: bounded, storable. */
export function checkDocument(value: unknown, what: string): void {
  const problem = documentProblem(value, what);
  if (problem) throw new AppError('INVALID_REQUEST', problem);
}

/** A configuration view from the stored row (or the empty one of a device never configured). */
function configView(deviceId: string, row: commands.DeviceConfig | null) {
  const config = row ?? {
    device_id: deviceId,
    desired: {},
    desired_version: 0,
    desired_at: null,
    desired_by: null,
    reported: null,
    reported_version: null,
    reported_at: null,
    out_of_sync_since: null,
    online: false,
    online_changed_at: null,
  };
  return {
    ...config,
    delta: config.desired_version === 0 ? [] : configDelta(config.desired, config.reported),
    in_sync: config.desired_version === 0 || (config.reported_version ?? -1) >= config.desired_version,
  };
}

/** What was sent, for the audit log: its JSON, cut short. */
const brief = (params: unknown) => {
  const text = JSON.stringify(params ?? {});
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
};

/** Per-tenant pace of commands and configuration changes (COMMANDS_PER_MINUTE). */
export function commandPace(perMinute: number) {
  const buckets = new TokenBuckets({ ratePerSecond: perMinute / 60, burst: perMinute });
  return (tenantId: string) => {
    if (!buckets.tryTake(tenantId, Date.now()))
      throw new AppError(
        'RATE_LIMITED',
        `This tenant sends at most ${perMinute} commands or configuration changes a minute; wait a little, or use a fleet job for many devices`,
        {},
        Math.ceil(60 / perMinute),
      );
  };
}

/** Resolves with the command once it finished, or as it is when `ms` ran out. */
export function waitForCommand(
  bus: Bus,
  read: () => Promise<commands.Command | null>,
  commandId: string,
  ms: number,
): Promise<commands.Command | null> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (command: commands.Command | null) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(command);
    };
    const look = () =>
      read().then((command) => {
        if (!command || commands.isFinished(command.state) || Date.now() >= deadline) finish(command);
        else timer = setTimeout(look, Math.min(RECHECK_MS, Math.max(0, deadline - Date.now())));
      }, reject);
    const unsubscribe = bus.subscribe('commands.changed', (changes) => {
      if (changes.some((change) => change.command_id === commandId && commands.isFinished(change.state))) {
        clearTimeout(timer);
        void look();
      }
    });
    void look();
  });
}

export interface CommandRouteDeps {
  bus: Bus;
  pace: (tenantId: string) => void;
}

export function registerCommandRoutes(app: App, scope: DeviceScope, deps: CommandRouteDeps): void {
  const { bus } = deps;
  const DeviceParams = Type.Object({ ...scope.pathParams, device_id: Type.String() });
  const CommandParams = Type.Object({ ...scope.pathParams, command_id: Type.String({ format: 'uuid' }) });
  const reads = scope.prefix.startsWith('/customer') ? {} : { preHandler: scope.preHandler };
  const writes = { preHandler: scope.preHandler };
  const tags = [...scope.tags, 'commands'];
  const commandsPrefix = scope.prefix.replace(/\/devices$/, '/commands');
  const by = (request: FastifyRequest) => displayName(principalOf(request));

  app.post(
    `${scope.prefix}/:device_id/commands`,
    {
      ...writes,
      schema: {
        tags,
        summary:
          'Send a device a command; it waits QUEUED until the device is connected. `wait` (≤ 60 s) waits for its answer',
        params: DeviceParams,
        querystring: Type.Object({ wait: Type.Integer({ minimum: 0, maximum: MAX_WAIT_SECONDS, default: 0 }) }),
        body: CreateCommand,
        response: { 201: CommandView },
      },
    },
    async (request, reply) => {
      const { device_id } = request.params as { device_id: string };
      const body = request.body;
      deps.pace(scope.tenantOf(request));
      const created = await scope.run(request, 'send_command', (tx) =>
        commands.sendCommand(tx, {
          device_id,
          name: body.name,
          params: body.params,
          expires_in_seconds: body.expires_in_seconds,
          created_by: by(request),
        }),
      );
      bus.publish('commands.queued', [{ tenant_id: created.tenant_id, device_id }]);
      noteAudit(request, {
        resourceId: created.command_id,
        summary: `sent command ${body.name} ${brief(body.params)} to ${device_id}`,
      });
      const wait = request.query.wait;
      const answer =
        wait > 0
          ? await waitForCommand(
              bus,
              () => scope.run(request, 'get_command', (tx) => commands.getCommand(tx, created.command_id)),
              created.command_id,
              wait * 1000,
            )
          : created;
      return reply.status(201).send(answer ?? created);
    },
  );

  app.get(
    `${scope.prefix}/:device_id/commands`,
    {
      ...reads,
      schema: {
        tags,
        summary: "A device's commands, newest first",
        params: DeviceParams,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          before: Type.Optional(Type.String({ format: 'date-time', description: 'older than this creation time' })),
        }),
        response: { 200: Obj({ device_id: Type.String(), commands: Type.Array(CommandView) }) },
      },
    },
    async (request) => {
      const { device_id } = request.params as { device_id: string };
      const { limit, before } = request.query;
      return scope.run(request, 'list_commands', async (tx) => ({
        device_id,
        commands: await commands.listCommands(tx, device_id, { limit, before: before ? new Date(before) : undefined }),
      }));
    },
  );

  app.get(
    `${commandsPrefix}/:command_id`,
    {
      ...reads,
      schema: {
        tags,
        summary: 'One command with its states and answer',
        params: CommandParams,
        response: { 200: CommandView },
      },
    },
    async (request) => {
      const { command_id } = request.params as { command_id: string };
      const command = await scope.run(request, 'get_command', (tx) => commands.getCommand(tx, command_id));
      if (!command) throw new AppError('NOT_FOUND', 'No command with that id in this tenant');
      return command;
    },
  );

  app.post(
    `${commandsPrefix}/:command_id/cancel`,
    {
      ...writes,
      schema: {
        tags,
        summary: 'Cancel a command its device has not confirmed yet (QUEUED or SENT)',
        params: CommandParams,
        response: { 200: CommandView },
      },
    },
    async (request) => {
      const { command_id } = request.params as { command_id: string };
      const outcome = await scope.run(request, 'cancel_command', async (tx) => {
        const canceled = await commands.cancelCommand(tx, command_id);
        return { canceled, current: canceled ?? (await commands.getCommand(tx, command_id)) };
      });
      if (!outcome.current) throw new AppError('NOT_FOUND', 'No command with that id in this tenant');
      if (!outcome.canceled)
        throw new AppError(
          'CONFLICT',
          `The command is ${outcome.current.state}: only a QUEUED or SENT command can be canceled`,
        );
      const { canceled } = outcome;
      bus.publish('commands.changed', [commands.changeOf(canceled)]);
      noteAudit(request, {
        resourceId: command_id,
        summary: `canceled command ${canceled.name} of ${canceled.device_id}`,
      });
      return canceled;
    },
  );

  app.get(
    `${scope.prefix}/:device_id/config`,
    {
      ...reads,
      schema: {
        tags,
        summary: "A device's desired and reported configuration, the keys that differ, and since when",
        params: DeviceParams,
        response: { 200: ConfigView },
      },
    },
    async (request) => {
      const { device_id } = request.params as { device_id: string };
      return scope.run(request, 'get_config', async (tx) => {
        const row = await commands.getConfig(tx, device_id);
        if (!row && (await commands.deviceStatus(tx, device_id)) === null)
          throw new AppError('NOT_FOUND', `No device ${device_id} in this tenant`);
        return configView(device_id, row);
      });
    },
  );

  const changeConfig = (method: 'put' | 'patch') =>
    app[method](
      `${scope.prefix}/:device_id/config`,
      {
        ...writes,
        schema: {
          tags,
          summary:
            method === 'put'
              ? 'Replace the desired configuration (a new version, sent to the device)'
              : 'Change the desired configuration with a JSON merge patch (null removes a key)',
          params: DeviceParams,
          body: Type.Object({ desired: JsonObject }, { additionalProperties: false }),
          response: { 200: ConfigView },
        },
      },
      async (request) => {
        const { device_id } = request.params as { device_id: string };
        const { desired } = request.body as { desired: Record<string, unknown> };
        checkDocument(desired, 'desired');
        deps.pace(scope.tenantOf(request));
        const view = await scope.run(request, 'set_config', async (tx) => {
          await commands.requireActiveDevice(tx, device_id);
          await commands.setDesired(
            tx,
            [device_id],
            (current) => (method === 'put' ? desired : mergePatch(current, desired)),
            by(request),
          );
          const row = await commands.getConfig(tx, device_id);
          checkDocument(row?.desired, 'the desired configuration');
          return configView(device_id, row);
        });
        bus.publish('config.changed', [{ tenant_id: scope.tenantOf(request), device_id }]);
        noteAudit(request, {
          resourceId: device_id,
          summary: `set desired configuration of ${device_id} to version ${view.desired_version}: ${brief(desired)}`,
        });
        return view;
      },
    );
  changeConfig('put');
  changeConfig('patch');
}
