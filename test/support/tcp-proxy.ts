import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of a real server, to cut the network between dmq and it: `cut()` drops
 * every connection and refuses new ones (the port stays reserved), `restore()` lets them in again;
 * `pointTo()` sends new connections to another server, as a DNS name or endpoint moved by a failover.
 */
export async function startTcpProxy(first: { host: string; port: number }) {
  let target = first;
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host: '127.0.0.1',
    port,
    cut(): void {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore(): void {
      open = true;
    },
    /** Drops every connection; new ones reach `next`. */
    pointTo(next: { host: string; port: number }): void {
      target = next;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    async close(): Promise<void> {
      this.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
