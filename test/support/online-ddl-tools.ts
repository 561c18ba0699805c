import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Endpoint } from '../harness/servers.js';

/**
 * The online-schema-change tools as a user runs them against an upstream: Debian's
 * pt-online-schema-change (percona-toolkit, scripts/install-deps.sh) and gh-ost, built once from
 * the Go module proxy by scripts/build-gh-ost.sh.
 */

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

let ghOst: Promise<string> | undefined;

function ghOstBinary(): Promise<string> {
  ghOst ??= run('bash', [join(ROOT, 'scripts/build-gh-ost.sh')], { maxBuffer: 16 << 20 }).then(
    ({ stdout }) => stdout.trim().split('\n').at(-1)!,
    (err: unknown) => {
      const { stderr = '' } = err as { stderr?: string };
      throw new Error(`scripts/build-gh-ost.sh failed: ${(err as Error).message}\n${stderr.trimEnd().split('\n').slice(-25).join('\n')}`);
    },
  );
  return ghOst;
}

async function tool(file: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(file, args, { maxBuffer: 64 << 20, timeout: 600_000 });
    return `${stdout}${stderr}`;
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`${file} failed: ${(err as Error).message}\n${`${stdout}${stderr}`.trimEnd().split('\n').slice(-30).join('\n')}`);
  }
}

/** pt-online-schema-change --execute: a `_<table>_new` copy, triggers, the swap, the old table dropped. */
export function ptOnlineSchemaChange(server: Endpoint, schema: string, table: string, alter: string): Promise<string> {
  return tool('pt-online-schema-change', [
    '--alter',
    alter,
    `D=${schema},t=${table},h=${server.host},P=${server.port},u=${server.user},p=${server.password}`,
    '--execute',
    // The upstream has no replicas to watch.
    '--recursion-method=none',
    '--chunk-size=500',
  ]);
}

/**
 * gh-ost on the upstream itself (--allow-on-master): a `_<table>_gho` copy filled from the binlog,
 * `_<table>_ghc` for its changelog, the atomic cut-over. With `beforeCutOver`, gh-ost waits when
 * its copy is done (--postpone-cut-over-flag-file) until that resolves.
 *
 * gh-ost 1.1.6 on MariaDB 10.11 can lose writes made to the table while it finishes: seen here in
 * two of four runs with a writer going through the cut-over, a few consecutive writes committed
 * on the source (in its binlog, so on the target) were missing from the swapped-in table. Tests
 * that compare every row stop their writers in `beforeCutOver`.
 */
export async function ghOstMigrate(
  server: Endpoint,
  schema: string,
  table: string,
  alter: string,
  beforeCutOver?: () => Promise<void>,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dmq-gh-ost-'));
  const socket = join(dir, 'gh-ost.sock');
  const postpone = join(dir, 'postpone-cut-over');
  if (beforeCutOver) await writeFile(postpone, '');
  const migration = tool(await ghOstBinary(), [
    `--host=${server.host}`,
    `--port=${server.port}`,
    `--user=${server.user}`,
    `--password=${server.password}`,
    `--database=${schema}`,
    `--table=${table}`,
    `--alter=${alter}`,
    '--allow-on-master',
    '--assume-rbr',
    '--execute',
    '--ok-to-drop-table',
    '--initially-drop-ghost-table',
    '--initially-drop-old-table',
    '--chunk-size=500',
    '--default-retries=10',
    `--serve-socket-file=${socket}`,
    `--throttle-additional-flag-file=${join(dir, 'throttle')}`,
    ...(beforeCutOver ? [`--postpone-cut-over-flag-file=${postpone}`] : []),
  ]);
  if (!beforeCutOver) return migration;
  let ended = false;
  const done = migration.finally(() => {
    ended = true;
  });
  try {
    while (!ended && !(await ghOstStatus(socket)).includes('State: postponing cut-over')) await new Promise((r) => setTimeout(r, 250));
    if (!ended) await beforeCutOver();
  } finally {
    await rm(postpone, { force: true });
  }
  return done;
}

/** What gh-ost's interactive `status` command says; '' while its socket is not up. */
function ghOstStatus(socket: string): Promise<string> {
  return new Promise((resolvePromise) => {
    let text = '';
    const conn = connect(socket, () => conn.end('status\n'));
    conn.on('data', (d) => {
      text += d.toString();
    });
    conn.on('close', () => resolvePromise(text));
    conn.on('error', () => resolvePromise(''));
  });
}
