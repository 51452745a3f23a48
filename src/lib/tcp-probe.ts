// Can a TCP connection be opened to this URL's host and port? (Health of services Pulse does not run.)
import { connect } from 'node:net';

const DEFAULT_PORTS: Record<string, number> = {
  'mqtt:': 1883,
  'mqtts:': 8883,
  'ws:': 80,
  'wss:': 443,
  'http:': 80,
  'https:': 443,
};

export function tcpProbe(
  url: string,
  timeoutMs = 2000,
): Promise<{ status: 'ok' | 'down'; url: string; error?: string }> {
  const target = new URL(url);
  const port = Number(target.port) || DEFAULT_PORTS[target.protocol] || 0;
  return new Promise((resolve) => {
    const socket = connect({ host: target.hostname, port, timeout: timeoutMs });
    const done = (error?: string) => {
      socket.destroy();
      resolve(
        error
          ? { status: 'down', url: `${target.protocol}//${target.host}`, error }
          : { status: 'ok', url: `${target.protocol}//${target.host}` },
      );
    };
    socket.once('connect', () => done());
    socket.once('timeout', () => done(`no answer within ${timeoutMs} ms`));
    socket.once('error', (error) => done(error.message));
  });
}
