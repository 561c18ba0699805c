/**
 * A TCP relay that holds every chunk for `delayMs` before passing it on, each direction: a
 * network round trip of 2 × delayMs between dmq and a server on this machine (the kernel here
 * has no netem). Chunks keep their order, since timers of one duration fire in the order set.
 */
import { connect, createServer, type Socket } from 'node:net';
import { addCleanup } from './processes.js';

export interface DelayRelay {
  host: string;
  port: number;
}

export async function startDelayRelay(target: { host: string; port: number }, delayMs: number): Promise<DelayRelay> {
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket) =>
    from.on('data', (chunk: Buffer) => {
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, delayMs);
    });
  const server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect({ host: target.host, port: target.port, noDelay: true });
    sockets.add(client).add(upstream);
    const drop = () => {
      for (const s of [client, upstream]) {
        s.destroy();
        sockets.delete(s);
      }
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  addCleanup(`delay relay to :${target.port}`, async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host: '127.0.0.1', port: (server.address() as { port: number }).port };
}
