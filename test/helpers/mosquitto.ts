// A Mosquitto of one's own, on a free port, with the deploy/mosquitto.conf we ship: for tests that stop
// or reconfigure the broker, and for benchmarks that should not share the machine's.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface Mosquitto {
  port: number;
  url: string;
  /** Stops the broker (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same configuration. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
  /** The broker's process id while it runs (benchmarks read its CPU). */
  pid(): number | undefined;
}

export async function listening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `extra` lines are appended to the configuration (e.g. allow_anonymous false, password_file …); files it
 * names must be readable by the mosquitto user.
 */
export async function startMosquitto(extra = ''): Promise<Mosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pulse-mosquitto-'));
  chmodSync(dir, 0o777); // started as root, mosquitto drops to its own user and still writes its persistence here
  const conf = readFileSync('deploy/mosquitto.conf', 'utf8')
    .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
    .replace(/^persistence true$/m, `persistence true\npersistence_location ${dir}/`)
    .replace(/^allow_anonymous true$/m, extra.includes('allow_anonymous') ? '' : 'allow_anonymous true');
  writeFileSync(path.join(dir, 'mosquitto.conf'), `${conf}\n${extra}\n`);
  let child: ChildProcess | undefined;
  const broker: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async start() {
      child = spawn('mosquitto', ['-c', path.join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
      await listening(port, 10_000);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise((resolve) => {
        running.once('exit', resolve);
        running.kill('SIGTERM');
      });
    },
    async close() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    pid: () => child?.pid,
  };
  await broker.start();
  return broker;
}

export const DYNSEC_PLUGIN = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';

/** A Mosquitto of one's own with the dynamic-security plugin, its admin `admin` / `adminPassword`. */
export async function startDynsecMosquitto(adminPassword: string): Promise<Mosquitto & { adminUrl: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pulse-dynsec-'));
  chmodSync(dir, 0o777);
  const file = path.join(dir, 'dynamic-security.json');
  execFileSync('mosquitto_ctrl', ['dynsec', 'init', file, 'admin', adminPassword], { stdio: 'ignore' });
  chmodSync(file, 0o666); // the plugin, running as the mosquitto user, saves every change here
  const broker = await startMosquitto(
    [`plugin ${DYNSEC_PLUGIN}`, `plugin_opt_config_file ${file}`, 'allow_anonymous false'].join('\n'),
  );
  return {
    ...broker,
    adminUrl: `mqtt://admin:${encodeURIComponent(adminPassword)}@127.0.0.1:${broker.port}`,
    async close() {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
