// NATS servers of one's own on free loopback ports, with JetStream: one, or a cluster of several joined by
// --cluster/--routes. Each node can be killed (SIGKILL) and started again with its store.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, listening } from './mosquitto.js';

export interface NatsNode {
  port: number;
  url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's URL, comma-separated (what NATS_URL takes). */
  urls: string;
  close(): Promise<void>;
}

const SERVER = '/usr/sbin/nats-server';

/** `extraArgs` go to every node (e.g. --user/--pass); `jetstream: false` starts servers without it. */
export async function startNatsCluster(
  size = 3,
  extraArgs: string[] = [],
  { jetstream = true }: { jetstream?: boolean } = {},
): Promise<NatsCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pulse-nats-'));
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const clusterPorts = size > 1 ? await Promise.all(Array.from({ length: size }, () => freePort())) : [];
  const routes = clusterPorts.map((port) => `nats-route://127.0.0.1:${port}`).join(',');
  const nodes = ports.map((port, index): NatsNode => {
    let child: ChildProcess | undefined;
    const args = [
      ...['-a', '127.0.0.1', '-p', String(port), '-n', `n${index}`],
      ...(jetstream ? ['-js', '-sd', path.join(dir, `n${index}`)] : []),
      ...extraArgs,
    ];
    if (size > 1) {
      args.push(
        '--cluster_name',
        'pulse-test',
        '--cluster',
        `nats://127.0.0.1:${clusterPorts[index]}`,
        '--routes',
        routes,
      );
    }
    return {
      port,
      url: `nats://127.0.0.1:${port}`,
      async start() {
        child = spawn(SERVER, args, { stdio: 'ignore' });
        await listening(port, 10_000);
      },
      async kill() {
        const running = child;
        child = undefined;
        if (!running || running.exitCode !== null) return;
        await new Promise((resolve) => {
          running.once('exit', resolve);
          running.kill('SIGKILL');
        });
      },
    };
  });
  await Promise.all(nodes.map((node) => node.start()));
  return {
    nodes,
    urls: nodes.map((node) => node.url).join(','),
    async close() {
      await Promise.all(nodes.map((node) => node.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
