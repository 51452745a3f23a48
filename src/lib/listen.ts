import type { Server } from 'node:net';

/**
 * Listens on host:port; when the port is taken, calls onTaken once and listens on a free port instead.
 * Port 0 means "any free port". Resolves to the port actually bound.
 */
export async function listenWithFallback(
  server: Server,
  host: string,
  port: number,
  onTaken: (port: number) => void,
): Promise<number> {
  try {
    return await listen(server, host, port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error;
    onTaken(port);
    return listen(server, host, 0);
  }
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
