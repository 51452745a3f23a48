// The control route: how `pulse user …`, `pulse device …` and `pulse token` reach a running Pulse that
// owns the embedded database, which no second process may open (ADR 017). The route takes a key
// generated at every start and kept in PULSE_DATA_DIR/control.json, readable only by the user who runs
// Pulse — whoever can read it could open the database files anyway.
import { Agent, fetch } from 'undici';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { App } from '../http/server.js';
import { commands, isCommandName, type CommandContext, type CommandName, type CommandOutput } from './commands.js';
import { AppError } from '../errors.js';

export interface ControlInfo {
  url: string;
  key: string;
  pid: number;
}

const controlFile = (dataDir: string) => path.resolve(dataDir, 'control.json');

/** Serves the commands at POST /control/<command>; returns the key callers must send. */
export function registerControlRoute(app: App, context: CommandContext): string {
  const key = randomBytes(24).toString('base64url');
  const expected = Buffer.from(key);
  app.post(
    '/control/:command',
    {
      schema: {
        hide: true,
        params: Type.Object({ command: Type.String() }),
        body: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        response: { 200: Type.Unknown() },
      },
    },
    async (request) => {
      const given = Buffer.from(String(request.headers['x-control-key'] ?? ''));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new AppError('UNAUTHORIZED', 'Invalid control key');
      }
      const name = request.params.command;
      if (!isCommandName(name)) throw new AppError('NOT_FOUND', `No command ${name}`);
      return run(name, context, request.body ?? {});
    },
  );
  return key;
}

/** Runs a command here, in the process that holds the database. */
export function run(name: CommandName, context: CommandContext, args: Record<string, unknown>): Promise<CommandOutput> {
  return (commands[name] as (ctx: CommandContext, args: unknown) => Promise<CommandOutput>)(context, args);
}

export function writeControlInfo(dataDir: string, info: ControlInfo): void {
  writeFileSync(controlFile(dataDir), JSON.stringify(info), { mode: 0o600 });
}

export function removeControlInfo(dataDir: string): void {
  rmSync(controlFile(dataDir), { force: true });
}

/** Asks the Pulse that owns the data dir to run a command; its errors come back as AppErrors. */
export async function runThroughOwner(
  dataDir: string,
  name: CommandName,
  args: Record<string, unknown>,
): Promise<CommandOutput | undefined> {
  let info: ControlInfo;
  try {
    info = JSON.parse(readFileSync(controlFile(dataDir), 'utf8')) as ControlInfo;
  } catch {
    return undefined;
  }
  const response = await fetch(`${info.url}/control/${encodeURIComponent(name)}`, {
    // With TLS on, the owner serves its certificate for a public name, not for 127.0.0.1; the control key
    // (from a file only this user reads) authenticates it, and only the process bound to the port
    // answers on loopback.
    ...(info.url.startsWith('https:') && { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) }),
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-control-key': info.key },
    body: JSON.stringify(args),
  });
  const body = (await response.json()) as CommandOutput & { detail?: unknown };
  if (response.ok) return body;
  const detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
  throw new AppError(response.status === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST', `the running Pulse says: ${detail}`);
}
