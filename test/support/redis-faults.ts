import assert from 'node:assert/strict';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from './compare.js';
import { runCli, waitForCaughtUp, waitForStatus, type DmqServer } from './dmq.js';
import { exampleFiles, execSql, itemsTable, writeTask } from './fixtures.js';
import { startRowWriter } from './writer.js';

const ROWS = 3000;

/**
 * The Redis fault tests' setup: schema `schema` with an items table on upstream 1, cleaned
 * databases; then, for a running dmq, its source and an `all` task (`submit`), a writer on the
 * table (`startWriting`), and the end: writer stopped, task caught up and Running, every row equal.
 */
export async function redisFaultScenario(schema: string) {
  await resetDatabases();
  const stack = await getStack();
  await execSql(stack.upstreams[0], itemsTable(schema, ROWS));
  const files = await exampleFiles();
  const taskFile = await writeTask({ name: schema, mode: 'all', schema, instance: ['mydumper: { rows: 500 }'] });
  let writer: ReturnType<typeof startRowWriter> | undefined;

  return {
    /** Registers the source and starts the task, as a user would (again after Redis lost them). */
    async submit(dmq: DmqServer): Promise<void> {
      const created = await runCli(dmq.addr, ['operate-source', 'create', files.sources[0]!]);
      assert.equal(created.code, 0, created.stdout + created.stderr);
      const started = await runCli(dmq.addr, ['start-task', taskFile]);
      assert.equal(started.code, 0, started.stdout + started.stderr);
    },
    startWriting(): void {
      writer = startRowWriter(stack.upstreams[0], { table: `${schema}.items`, rows: ROWS, insertFrom: 100_000, seed: schema.length });
    },
    /** Waits until the task is in Sync and has applied some of the writer's changes. */
    async midSync(dmq: DmqServer): Promise<void> {
      await waitForStatus(dmq.addr, schema, (s) => {
        const sub = s.sources[0]!.subTaskStatus[0]!;
        return s.stage !== 'Running' || (sub.unit === 'Sync' && (sub.sync?.totalEvents ?? 0) > 50);
      });
    },
    /** Stops the writer, waits for the task to apply everything, and compares every row. */
    async finish(dmq: DmqServer): Promise<number> {
      const writes = (await writer?.stop()) ?? 0;
      const status = await waitForCaughtUp(dmq.addr, schema, [stack.upstreams[0]], 120_000);
      assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
      const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema, table: 'items' }], {
        server: stack.target,
        schema,
        table: 'items',
      });
      assert.equal(actual.length, expected.length, 'row count');
      assert.deepEqual(actual, expected, 'every row');
      return writes;
    },
    /** Waits until dmq has its Redis connection back (the API answers 503 until then). */
    async redisBack(dmq: DmqServer): Promise<void> {
      for (let i = 0; i < 300; i++) {
        if ((await fetch(`http://${dmq.addr}/readyz`)).status === 200) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.fail('dmq did not reconnect to Redis within 60 s');
    },
    async stopWriting(): Promise<void> {
      await writer?.stop();
    },
  };
}
