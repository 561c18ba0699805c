import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { accepts, freePort, HOST } from './ports.js';
import { findBinary, hasExited, removeOnExit, spawnServer, tail, terminate, waitUntilReady } from './proc.js';

const run = promisify(execFile);

interface MariadbOptions {
  dir: string;
  port?: number;
  serverId: number;
  binlog: boolean;
  /** binlog_row_metadata: FULL (the harness's default) names every column; MINIMAL (MySQL 8's and Aurora's default) does not. */
  rowMetadata?: 'FULL' | 'MINIMAL';
  /** Password of root over TCP; empty by default. */
  rootPassword?: string;
  /** Detach so the server outlives this process (scripts/local-servers.ts). */
  daemon?: boolean;
  /** More mariadbd options, after the harness's own (`--ssl-cert=...`, `--require-secure-transport=ON`). */
  extraArgs?: string[];
}

export interface MariadbServer {
  host: string;
  port: number;
  user: string;
  password: string;
  datadir: string;
  socket: string;
  pid: number;
  stop(): Promise<void>;
}

export function mariadbFiles(dir: string) {
  return {
    datadir: join(dir, 'data'),
    socket: join(dir, 'mysqld.sock'),
    pidFile: join(dir, 'mysqld.pid'),
    errorLog: join(dir, 'err.log'),
  };
}

const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];

/** Given to install-db too, so copies of the template start without resizing the redo log. */
const innodbSizes = ['--innodb-buffer-pool-size=128M', '--innodb-log-file-size=64M'];

let template: Promise<string> | undefined;

/** install-db takes over a second; every server of this process starts from a copy of one run. */
function initializedDatadir(): Promise<string> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dmq-mariadb-template-'));
    removeOnExit(dir);
    const datadir = join(dir, 'data');
    await mkdir(join(dir, 'tmp'));
    try {
      await run(findBinary('mariadb-install-db'), [
        '--no-defaults',
        `--datadir=${datadir}`,
        // Temporary tables in a directory of its own: the shared /tmp saw two test runs' bootstraps lose each other's files.
        `--tmpdir=${join(dir, 'tmp')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...asRoot,
        ...innodbSizes,
      ]);
    } catch (err) {
      const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
      const output = `${stdout}${stderr}`.trimEnd().split('\n').slice(-25).join('\n');
      throw new Error(`mariadb-install-db failed: ${(err as Error).message}\n${output}`);
    }
    return datadir;
  })();
  return template;
}

export async function startMariadb(options: MariadbOptions): Promise<MariadbServer> {
  const dir = resolve(options.dir);
  const files = mariadbFiles(dir);
  await mkdir(join(dir, 'tmp'), { recursive: true });
  // A datadir left by an earlier run (a stopped demo) keeps its data.
  if (!existsSync(join(files.datadir, 'mysql'))) {
    await mkdir(files.datadir, { recursive: true });
    await run('cp', ['-a', '--sparse=always', `${await initializedDatadir()}/.`, files.datadir]);
  }
  const port = options.port ?? (await freePort());
  const password = options.rootPassword ?? '';
  const child = spawnServer(
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${files.datadir}`,
      `--tmpdir=${join(dir, 'tmp')}`,
      `--socket=${files.socket}`,
      `--port=${port}`,
      `--bind-address=${HOST}`,
      `--pid-file=${files.pidFile}`,
      `--log-error=${files.errorLog}`,
      `--server-id=${options.serverId}`,
      ...innodbSizes,
      '--innodb-flush-log-at-trx-commit=2',
      '--skip-name-resolve',
      '--max-connections=500',
      '--max-allowed-packet=64M',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      ...asRoot,
      ...(options.binlog
        ? [
            `--log-bin=${join(dir, 'binlog')}`,
            '--binlog-format=ROW',
            '--binlog-row-image=FULL',
            `--binlog-row-metadata=${options.rowMetadata ?? 'FULL'}`,
          ]
        : []),
      ...(options.extraArgs ?? []),
    ],
    options.daemon ?? false,
  );
  const what = `mariadbd (server-id ${options.serverId}) on port ${port}`;
  // The socket proves the server is ours: a port taken by another server accepts TCP as well,
  // while mariadbd creates its socket only after binding the port.
  await waitUntilReady(child, what, files.errorLog, async () => (await accepts({ port })) && accepts({ path: files.socket }));
  const pid = child.pid as number;
  const stop = () => terminate(pid, () => hasExited(child));
  try {
    await grantRoot(files.socket, password);
  } catch (err) {
    await stop();
    const log = await tail(files.errorLog);
    throw new Error(
      `${what}: setting up root over ${files.socket} failed: ${(err as Error).message}; ${files.errorLog} ends with:\n${log}`,
    );
  }
  return { host: HOST, port, user: 'root', password, datadir: files.datadir, socket: files.socket, pid, stop };
}

/**
 * install-db leaves root without a password and only on local hosts; clients log in over TCP
 * from anywhere with a password, as they would to a real upstream. root@localhost stays
 * password-less over the socket so the harness can always get back in.
 */
async function grantRoot(socketPath: string, password: string): Promise<void> {
  const conn = await mysql.createConnection({ socketPath, user: 'root' });
  try {
    for (const host of ['%', '127.0.0.1', '::1']) {
      await conn.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', ['root', host, password]);
      await conn.query('ALTER USER ?@? IDENTIFIED BY ?', ['root', host, password]);
      await conn.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', ['root', host]);
    }
  } finally {
    await conn.end();
  }
}
