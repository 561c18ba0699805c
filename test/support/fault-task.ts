import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint } from '../harness/servers.js';
import { getStack } from '../harness/stack.js';
import { compareMerged } from './compare.js';
import { runCli, taskStatus, waitForCaughtUp } from './dmq.js';
import { exampleFiles } from './fixtures.js';
import { startWriter } from './writer.js';

export const SOURCES = ['mysql-replica-01', 'mysql-replica-02'] as const;

/**
 * The seed task's shape (both upstreams' test_db.test_table merged into one table, `all` mode)
 * with small chunks, so that dump and load last long enough to be hit by a fault.
 */
export async function writeFaultTask(options: { name: string; targetPort?: number; shardMode?: 'pessimistic' }): Promise<string> {
  const stack = await getStack();
  const dir = await mkdtemp(join(tmpdir(), 'dmq-fault-task-'));
  const path = join(dir, `${options.name}.yaml`);
  await writeFile(
    path,
    [
      `name: ${options.name}`,
      'task-mode: all',
      ...(options.shardMode ? [`shard-mode: ${options.shardMode}`] : []),
      `target-database: { host: 127.0.0.1, port: ${options.targetPort ?? stack.target.port}, user: root, password: "" }`,
      'mysql-instances:',
      ...SOURCES.flatMap((id) => [
        `  - source-id: ${id}`,
        '    block-allow-list: seed',
        '    mydumper-config-name: small',
        '    loader-config-name: one',
      ]),
      'block-allow-list:',
      '  seed: { do-tables: [{ db-name: test_db, tbl-name: test_table }] }',
      'mydumpers:',
      '  small: { threads: 2, rows: 2000 }',
      'loaders:',
      '  one: { pool-size: 2 }',
    ].join('\n'),
  );
  return path;
}

/** Registers the examples' two sources (on `ports` when given: a relay in front of an upstream). */
export async function registerSources(addr: string, ports?: { host: string; port: number }[]): Promise<void> {
  const files = await exampleFiles();
  if (ports) {
    const { readFile } = await import('node:fs/promises');
    for (const [i, file] of files.sources.entries()) {
      const text = await readFile(file, 'utf8');
      await writeFile(file, text.replace(/host: .*/, `host: "${ports[i]!.host}"`).replace(/port: \d+/, `port: ${ports[i]!.port}`));
    }
  }
  const created = await runCli(addr, ['operate-source', 'create', ...files.sources]);
  assert.equal(created.code, 0, created.stdout + created.stderr);
}

/**
 * startWriter on both upstreams (keys of upstream i stay ≡ i mod 2, so the shards merge), as
 * fast as they go or `perSecond` transactions a second each.
 */
export async function startWriters(seed: number, perSecond?: number) {
  const stack = await getStack();
  const writers = stack.upstreams.map((server, i) =>
    startWriter(server, { parity: i as 0 | 1, seed: seed + i, ...(perSecond ? { perSecond } : {}) }),
  );
  return {
    /** Stops both; asserts they really wrote through the faults. */
    async stop(): Promise<number[]> {
      const counts = await Promise.all(writers.map((w) => w.stop()));
      assert.ok(
        counts.every((n) => n > 20),
        `writers ran: ${counts.join(', ')} transactions`,
      );
      return counts;
    },
  };
}

/** Whether every source of the task is in its Sync unit (or the task stopped running). */
/**
 * After the faults and with the writers stopped: the task catches up by itself and stays
 * Running, and the merged target table holds exactly the union of both upstreams' rows.
 */
export async function assertConverged(options: { addr: string; task: string; target?: Endpoint; logs: () => string }): Promise<void> {
  const stack = await getStack();
  const status = await waitForCaughtUp(options.addr, options.task, stack.upstreams, 180_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n--- dmq logs (tail) ---\n${options.logs().slice(-20_000)}`);
  });
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    { server: options.target ?? stack.target, schema: 'test_db', table: 'test_table' },
  );
  assert.equal(actual.length, expected.length, 'row count of the merged table');
  assert.deepEqual(actual, expected, 'rows of the merged table');
  assert.equal((await taskStatus(options.addr, options.task)).stage, 'Running');
}
