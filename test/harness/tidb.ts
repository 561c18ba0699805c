import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort, HOST } from './ports.js';
import { hasExited, spawnServer, terminate, waitUntilReady } from './proc.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

export interface TidbOptions {
  dir: string;
  port?: number;
  /** Detach so the server outlives this process (scripts/local-servers.ts). */
  daemon?: boolean;
}

/** Named apart from a MariaDB's files, so either kind of target can live in one member dir. */
export function tidbFiles(dir: string): { dataDir: string; pidFile: string; logFile: string } {
  return { dataDir: join(dir, 'tidb-data'), pidFile: join(dir, 'tidb.pid'), logFile: join(dir, 'tidb.log') };
}

export interface TidbServer {
  host: string;
  port: number;
  statusPort: number;
  user: string;
  password: string;
  pid: number;
  /** What `SELECT tidb_version()` says its release is, e.g. v8.5.6. */
  release: string;
  stop(): Promise<void>;
}

let binary: Promise<string> | undefined;

/**
 * The tidb-server binary: DMQ_TIDB_SERVER if set, else the one scripts/build-tidb.sh built into
 * its cache (building it the first time, which takes a quarter of an hour on 2 cores).
 */
export function tidbBinary(): Promise<string> {
  binary ??= (async () => {
    if (process.env.DMQ_TIDB_SERVER) return process.env.DMQ_TIDB_SERVER;
    try {
      const { stdout } = await run('bash', [join(ROOT, 'scripts/build-tidb.sh')], { maxBuffer: 64 << 20 });
      return stdout.trim().split('\n').at(-1)!;
    } catch (err) {
      const { stderr = '' } = err as { stderr?: string };
      throw new Error(`scripts/build-tidb.sh failed: ${(err as Error).message}\n${stderr.trimEnd().split('\n').slice(-25).join('\n')}`);
    }
  })();
  return binary;
}

/** tidb-server with its embedded store (unistore): TiDB's SQL, DDL and transactions in one process. */
export async function startTidb(options: TidbOptions): Promise<TidbServer> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const statusPort = await freePort();
  const { dataDir, pidFile, logFile } = tidbFiles(dir);
  const child = spawnServer(
    await tidbBinary(),
    [
      '-store',
      'unistore',
      '-path',
      dataDir,
      '-host',
      HOST,
      '-P',
      String(port),
      '-status',
      String(statusPort),
      '-log-file',
      logFile,
      '-L',
      'warn',
    ],
    options.daemon ?? false,
  );
  // tidb-server writes none itself; written before it is ready so that `local-servers.ts stop`
  // also finds a daemon that never got ready.
  if (child.pid !== undefined) await writeFile(pidFile, `${child.pid}\n`);
  const what = `tidb-server on port ${port}`;
  let release = '';
  // The status port answers with this server's own connection port, so a stranger on the SQL
  // port cannot pass for it.
  const ready = async () => {
    try {
      const res = await fetch(`http://${HOST}:${statusPort}/info`);
      if (!res.ok || ((await res.json()) as { listening_port?: number }).listening_port !== port) return false;
      release = await tidbRelease(port);
      return true;
    } catch {
      return false;
    }
  };
  await waitUntilReady(child, what, logFile, ready, 120_000);
  const pid = child.pid as number;
  return {
    host: HOST,
    port,
    statusPort,
    user: 'root',
    password: '',
    pid,
    release,
    stop: () => terminate(pid, () => hasExited(child)),
  };
}

async function tidbRelease(port: number): Promise<string> {
  const conn = await mysql.createConnection({ host: HOST, port, user: 'root' });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT tidb_version() AS v');
    return /Release Version: (\S+)/.exec(String(rows[0]!.v))?.[1] ?? 'unknown';
  } finally {
    await conn.end();
  }
}
