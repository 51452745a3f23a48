// `pulse` as a benchmark runs it: its CLI on the benchmark's database, a server process started on a free
// port and waited for, and a customer viewer's token to call the API with.
import { execFileSync, spawn } from 'node:child_process';
import { freePort } from '../test/helpers/mosquitto.js';

export type Cli = (...command: string[]) => string;

export const pulseCli =
  (env: NodeJS.ProcessEnv): Cli =>
  (...command) =>
    execFileSync(process.execPath, ['bin/pulse.js', ...command], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    }).toString();

/** Starts `pulse <args>` on a free port; resolves once /health answers. */
export async function startPulseServer(args: string[], env: NodeJS.ProcessEnv) {
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/pulse.js', ...args], {
    env: { ...env, PORT: String(port), MQTT_PORT: '0' },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i += 1) {
    if ((await fetch(`${base}/health`).catch(() => undefined))?.ok) break;
    if (i > 600) throw new Error(`pulse ${args.join(' ')} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    base,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    },
  };
}

/**
 * Creates a customer viewer of `tenant` (one per run: a kept database may be timed again): its name and
 * password (to sign in in a browser) and an access token.
 */
export function createViewer(cli: Cli, tenant: string): { username: string; password: string; token: string } {
  const username = `bench-viewer-${process.pid}`;
  const password = 'bench-password-1';
  cli(
    'user',
    'create',
    '--username',
    username,
    '--role',
    'customer_viewer',
    '--tenant',
    tenant,
    '--password',
    password,
  );
  return { username, password, token: cli('token', username).trim() };
}
