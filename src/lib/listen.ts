import type { Server } from 'node:net';

/** Whether an interface to listen on (MQTT_HOST, HOST) reaches this machine only. */
export const isLoopbackHost = (host: string) => host === 'localhost' || isLoopbackAddress(host);

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6: a peer on this machine. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

const taken = (error: unknown) => (error as NodeJS.ErrnoException).code === 'EADDRINUSE';

/**
 * Listens on host:port; when the port is taken, calls onTaken once and listens instead on `fallback` (the
 * port used last time, so that clients configured then still connect) or, when that is taken too, on any
 * free port. Port 0 means "any free port". Resolves to the port actually bound.
 */
export async function listenWithFallback(
  server: Server,
  host: string,
  port: number,
  onTaken: (port: number) => void,
  fallback?: number,
): Promise<number> {
  try {
    return await listen(server, host, port);
  } catch (error) {
    if (!taken(error) || port === 0) throw error;
    onTaken(port);
  }
  if (fallback && fallback !== port) {
    try {
      return await listen(server, host, fallback);
    } catch (error) {
      if (!taken(error)) throw error;
    }
  }
  return listen(server, host, 0);
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
