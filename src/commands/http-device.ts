// The HTTP side of commands for devices (ADR 027; docs/commands.md), beside HTTP ingest and with its
// credential, X-Provision-Token. A device polls — or long-polls, up to 30 s — for its commands and its
// desired configuration (what it fetches is DELIVERED), then posts results, progress and what it applied.
// The bodies are checked exactly as the MQTT replies are (parseReply).
import { Type } from '@sinclair/typebox';
import type { Bus } from '../bus/index.js';
import type { DeviceKey } from '../contracts/messages.js';
import { narrow, type Database } from '../db/database.js';
import type { App } from '../http/server.js';
import { AppError } from '../errors.js';
import * as commands from '../model/commands.js';
import { withDownloadLink, type LinkSigning } from './firmware-link.js';
import { parseReply, type Reply, type ReplyType } from '../model/command-protocol.js';

const MAX_WAIT_SECONDS = 30;
/** Long polls look again this often, whatever the bus says (its hints may be lost between processes). */
const RECHECK_MS = 2000;

export interface DeviceCommandRouteDeps {
  db: Database;
  bus: Bus;
  /** Whether the token is this active device's (ingest's registry cache). */
  pipeline: { credentialsValid(tenantId: string, deviceId: string, token: string): Promise<boolean> };
  recordReply: (device: DeviceKey, reply: Reply) => Promise<void>;
  maxInFlight: number;
  signing: LinkSigning;
}

const DeviceParams = Type.Object({ tenant_id: Type.String(), device_id: Type.String() });
const CommandParams = Type.Object({
  tenant_id: Type.String(),
  device_id: Type.String(),
  command_id: Type.String({ format: 'uuid' }),
});
const TokenHeader = Type.Object({ 'x-provision-token': Type.String() }, { additionalProperties: true });
const tags = ['device commands'];
const CommandMessage = Type.Object({
  id: Type.String(),
  name: Type.String(),
  params: Type.Unknown(),
  created_at: Type.String(),
  expires_at: Type.String(),
});
const Fetched = Type.Object({
  commands: Type.Array(CommandMessage),
  config: Type.Union([Type.Object({ version: Type.Integer(), desired: Type.Unknown() }), Type.Null()]),
});
const Answered = Type.Object({ id: Type.String(), state: Type.String() });

export function registerDeviceCommandRoutes(app: App, deps: DeviceCommandRouteDeps): void {
  const { db, bus } = deps;

  async function authenticate(params: { tenant_id: string; device_id: string }, token: string) {
    if (!(await deps.pipeline.credentialsValid(params.tenant_id, params.device_id, token)))
      throw new AppError('UNAUTHORIZED', 'TOKEN_INVALID: X-Provision-Token is not the token of this active device');
    return { tenant_id: params.tenant_id, device_id: params.device_id };
  }

  /** Waits until the bus hints at something for this device, or RECHECK_MS, or the deadline. */
  function somethingFor(device: DeviceKey, deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const mine = (keys: DeviceKey[]) =>
        keys.some((key) => key.tenant_id === device.tenant_id && key.device_id === device.device_id);
      const done = () => {
        clearTimeout(timer);
        stopQueued();
        stopConfig();
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(RECHECK_MS, deadline - Date.now())));
      const stopQueued = bus.subscribe('commands.queued', (keys) => {
        if (mine(keys)) done();
      });
      const stopConfig = bus.subscribe('config.changed', (keys) => {
        if (mine(keys)) done();
      });
    });
  }

  app.get(
    '/ingest/v1/tenant/:tenant_id/device/:device_id/commands',
    {
      schema: {
        tags,
        summary:
          'A device fetches its commands (now DELIVERED) and its desired configuration, waiting up to `wait` seconds for some',
        params: DeviceParams,
        headers: TokenHeader,
        querystring: Type.Object({ wait: Type.Integer({ minimum: 0, maximum: MAX_WAIT_SECONDS, default: 0 }) }),
        response: { 200: Fetched },
      },
    },
    async (request) => {
      const device = await authenticate(request.params, request.headers['x-provision-token']);
      const deadline = Date.now() + request.query.wait * 1000;
      let closed = false;
      request.raw.on('close', () => (closed = true));
      for (;;) {
        // While it waits, only news ends a long poll: a configuration it fetched and has not applied yet
        // comes again when the poll ends, not at once (which would make the poll spin).
        const last = Date.now() >= deadline || closed;
        const fetched = await db.withService((tx) =>
          commands.fetchForDevice(tx, device, deps.maxInFlight, last ? 'unapplied' : 'unsent'),
        );
        if (fetched.commands.length > 0) bus.publish('commands.changed', fetched.commands);
        if (fetched.messages.length > 0 || fetched.config || last)
          return {
            commands: fetched.messages.map((message) => withDownloadLink(message, device, deps.signing)),
            config: fetched.config,
          };
        await somethingFor(device, deadline);
      }
    },
  );

  const answer = (type: Exclude<ReplyType, 'commands_ready' | 'commands_offline' | 'config_reported'>, path: string) =>
    app.post(
      `/ingest/v1/tenant/:tenant_id/device/:device_id/commands/:command_id/${path}`,
      {
        schema: {
          tags,
          summary:
            type === 'command_result'
              ? 'A device answers a command: {status: SUCCEEDED | FAILED, result?, error?}'
              : 'A device reports a step of a long command: {state, detail?} (firmware: DOWNLOADING … UPDATED | FAILED)',
          params: CommandParams,
          headers: TokenHeader,
          body: Type.Object({}, { additionalProperties: true }),
          response: { 200: Answered },
        },
      },
      async (request) => {
        const device = await authenticate(request.params, request.headers['x-provision-token']);
        const parsed = parseReply(type, { ...request.body, id: request.params.command_id });
        if (!parsed.ok) throw new AppError('INVALID_REQUEST', parsed.problem);
        await deps.recordReply(device, parsed.reply);
        const command = await db.withService((tx) =>
          commands.getCommand(narrow(tx, device.tenant_id), request.params.command_id),
        );
        if (!command || command.device_id !== device.device_id)
          throw new AppError('NOT_FOUND', 'This device has no command with that id');
        return { id: command.command_id, state: command.state };
      },
    );
  answer('command_result', 'result');
  answer('command_progress', 'progress');

  const report = (type: 'config_reported' | 'attributes_reported', path: string, summary: string) =>
    app.post(
      `/ingest/v1/tenant/:tenant_id/device/:device_id/${path}`,
      {
        schema: {
          tags,
          summary,
          params: DeviceParams,
          headers: TokenHeader,
          body: Type.Object({}, { additionalProperties: true }),
          response: { 200: Type.Object({ status: Type.Literal('recorded') }) },
        },
      },
      async (request) => {
        const device = await authenticate(request.params, request.headers['x-provision-token']);
        const parsed = parseReply(type, request.body);
        if (!parsed.ok) throw new AppError('INVALID_REQUEST', parsed.problem);
        await deps.recordReply(device, parsed.reply);
        return { status: 'recorded' as const };
      },
    );
  report('config_reported', 'config/reported', 'A device reports the configuration it applied: {version, reported}');
  report(
    'attributes_reported',
    'attributes',
    'A device reports what it knows of itself: {attributes: {model, build, …}}, all of it (replacing what it reported before; what people set stays)',
  );
}
