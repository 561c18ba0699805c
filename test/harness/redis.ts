import { mkdir } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { freePort, HOST } from './ports.js';
import { hasExited, readPidFile, spawnServer, terminate, waitUntilReady } from './proc.js';

interface RedisOptions {
  dir: string;
  port?: number;
  /** Detach so the server outlives this process (scripts/local-servers.ts). */
  daemon?: boolean;
  /** Keep the data in an append-only file (fsync every second, as production should), so a restart keeps it. */
  aof?: boolean;
  /** Extra `--name value` pairs, e.g. `['--replicaof', '127.0.0.1 6379']`. */
  args?: string[];
}

export interface RedisServer {
  port: number;
  url: string;
  pid: number;
  stop(): Promise<void>;
  /** SIGKILL: no shutdown save, as a crashed host. */
  kill(): Promise<void>;
}

export function redisFiles(dir: string): { pidFile: string; logFile: string } {
  return { pidFile: join(dir, 'redis.pid'), logFile: join(dir, 'redis.log') };
}

export async function startRedis(options: RedisOptions): Promise<RedisServer> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const { pidFile, logFile } = redisFiles(dir);
  const child = spawnServer(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      options.aof ? 'yes' : 'no',
      '--appendfsync',
      'everysec',
      '--daemonize',
      'no',
      '--pidfile',
      pidFile,
      '--logfile',
      logFile,
      ...(options.args ?? []),
    ],
    options.daemon ?? false,
  );
  const pid = child.pid as number;
  // redis writes its pid file only after binding the port, so a PING can't be answered by a
  // stranger already on it.
  const ours = async () => (await readPidFile(pidFile)) === pid;
  await waitUntilReady(child, `redis-server on port ${port}`, logFile, async () => (await ours()) && pings(port));
  return {
    port,
    url: `redis://${HOST}:${port}`,
    pid,
    stop: () => terminate(pid, () => hasExited(child)),
    async kill() {
      if (hasExited(child)) return;
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** A raw PING, so waiting for startup needs no client library and logs no retry noise. */
export function pings(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(2_000, () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.once('error', () => finish(false));
  });
}
