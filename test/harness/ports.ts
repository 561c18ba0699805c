import { createConnection, createServer } from 'node:net';

export const HOST = '127.0.0.1';

/** A port the kernel just handed out; free unless something grabs it before the server binds. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port bound by the kernel'));
      });
    });
  });
}

export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(true);
      else reject(err);
    });
    server.listen(port, HOST, () => server.close(() => resolve(false)));
  });
}

/** Whether something accepts connections on a local TCP port or at a unix socket path. */
export function accepts(address: { port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection('port' in address ? { host: HOST, port: address.port } : address);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
