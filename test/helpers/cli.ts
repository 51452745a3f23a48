// The `pulse` program run as a user runs it, in processes of its own: one command, or `pulse up` until stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The built CLI, as `npx pulse` runs it (the global setup builds it when a source is newer). */
export const CLI = [path.resolve('dist/app/cli.js')];
export const BASE_ENV = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  LOG_LEVEL: 'warn',
  HOST: '127.0.0.1',
};

/**
 * A test's deadline from the CLI calls it makes: each starts Node and a database connection, which
 * on a busy machine takes seconds, so a fixed 30 s failed a test of eight calls under load.
 */
const CLI_CALL_BUDGET_MS = 15_000;
/** How long `pulse up` may take to print its URL (migrations, the embedded database) and then to stop. */
const UP_START_BUDGET_MS = 60_000;
const UP_STOP_BUDGET_MS = 12_000;
export const deadline = ({ calls = 0, ups = 0 }: { calls?: number; ups?: number }) =>
  calls * CLI_CALL_BUDGET_MS + ups * (UP_START_BUDGET_MS + UP_STOP_BUDGET_MS);
export const forCalls = (calls: number) => deadline({ calls });

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(args: string[], env: Record<string, string>): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env: { ...BASE_ENV, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `pulse up` and resolves once it printed its URL. */
export function startUp(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, 'up', ...args], {
      env: { ...BASE_ENV, PORT: '0', MQTT_PORT: '0', ...env },
    });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`pulse up did not start:\n${output}`)), UP_START_BUDGET_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Pulse is running at (http:\/\/localhost:\d+)\/app\//.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!.replace('localhost', '127.0.0.1'), output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`pulse up exited with ${code}:\n${output}`)));
  });
}

export function stopWithin(
  child: ChildProcess,
  signal: NodeJS.Signals,
): Promise<{ code: number | string | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (code, killedBy) => resolve({ code: code ?? `killed by ${killedBy}`, ms: Date.now() - started }));
    child.kill(signal);
  });
}
