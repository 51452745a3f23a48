// Pulse as separate operating-system processes (`pulse run <roles…>`), as an operator runs it: each on its
// own free HTTP port, ready once its /health answers; killed with a signal like a real crash.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createPostgresDatabase, uniqueName } from './databases.js';
import { freePort } from './mosquitto.js';

export interface PulseProcess {
  name: string;
  port: number;
  base: string;
  child: ChildProcess;
  output(): string;
  health(): Promise<any>;
  /** Sends the signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** The built CLI (the tests' global setup builds it when a source is newer): no transpiling in each process. */
export function pulseCommand(): string[] {
  return [path.resolve('dist/app/cli.js')];
}

/**
 * A new PostgreSQL database, migrated as `pulse migrate` leaves one: a copy of the migrated template
 * (databases.ts), without a process of its own; its name. test/cli covers `pulse migrate` itself.
 */
export async function migratedDatabase(prefix: string): Promise<string> {
  return createPostgresDatabase({ migrated: true, name: uniqueName(prefix) });
}

export async function startPulse(
  name: string,
  args: string[],
  env: Record<string, string>,
  options: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<PulseProcess> {
  const port = await freePort();
  const nodeArgs = ['--max-semi-space-size=64', ...(options.nodeArgs ?? [])];
  const child = spawn(process.execPath, [...nodeArgs, ...pulseCommand(), ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
      PORT: String(port),
    },
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const base = `http://127.0.0.1:${port}`;
  const process_: PulseProcess = {
    name,
    port,
    base,
    child,
    output: () => output,
    async health() {
      return (await fetch(`${base}/health`)).json();
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill(signal);
      });
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${base}/health`).then(
      () => true,
      () => false,
    );
    if (ready) return process_;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer /health in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
