import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { compareCoords, parseCoordText } from '../../src/shared/binlog/position.js';
import type { Endpoint } from '../harness/servers.js';
import { getStack } from '../harness/stack.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { dmqForFile, inSync, runCli, startDmq, waitForCaughtUp, waitForStatus, type DmqServer } from '../support/dmq.js';
import { execSql, exampleFiles, itemsTable, seedTestTables, writeTask } from '../support/fixtures.js';
import { ghOstMigrate, ptOnlineSchemaChange } from '../support/online-ddl-tools.js';
import { columnsOf, indexesOf, tablesOf } from '../support/schema.js';
import { shardLocks, until } from '../support/shard-locks.js';
import { startRowWriter, startWriter } from '../support/writer.js';

const dmq = dmqForFile({ registerSources: 2 });
/** A dmq started again after a kill -9 of the file's own. */
let restarted: DmqServer | undefined;
after(async () => {
  await restarted?.stop();
});

/** A table of `rows` rows shaped as startRowWriter writes them, under another name than itemsTable's. */
function rowsTable(schema: string, table: string, rows: number): string[] {
  return [
    `CREATE TABLE ${schema}.${table} (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40))`,
    `INSERT INTO ${schema}.${table} SELECT seq, seq % 89, CONCAT('${table} ', seq) FROM ${schema}.seq_1_to_${rows}`,
  ];
}

/** Every column, index and row of each table equal on the target, and no other table there. */
async function assertSameTables(sources: { server: Endpoint; schema: string; table: string }[], schema: string, tables: string[]) {
  const stack = await getStack();
  assert.deepEqual(await tablesOf(stack.target, schema), tables, 'no shadow or trash table reaches the target');
  for (const table of tables) {
    const shards = sources.filter((s) => s.table === table || tables.length === 1);
    const upstream = shards[0]!;
    assert.deepEqual(
      await columnsOf(stack.target, schema, table),
      await columnsOf(upstream.server, upstream.schema, upstream.table),
      `columns of ${table}`,
    );
    assert.deepEqual(
      await indexesOf(stack.target, schema, table),
      await indexesOf(upstream.server, upstream.schema, upstream.table),
      `indexes of ${table}`,
    );
    const { expected, actual } = await compareMerged(shards, { server: stack.target, schema, table });
    assert.equal(actual.length, expected.length, `rows of ${table}`);
    assert.deepEqual(actual, expected, `rows of ${table}`);
  }
}

/** The task's log records of one message. */
function logRecords(server: DmqServer, task: string, msg: string): Record<string, unknown>[] {
  return server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.task === task && l.msg === msg);
}

test('pt-online-schema-change and gh-ost each add a column while writers run (all mode): it arrives once, no shadow or trash table reaches the target, every row is equal', {
  timeout: 600_000,
}, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  const db = 'osc_db';
  await execSql(upstream, [...itemsTable(db, 5000), ...rowsTable(db, 'orders', 5000)]);
  const taskFile = await writeTask({ name: 'osc', mode: 'all', schema: db });
  const addr = dmq().addr;
  const writers = [
    startRowWriter(upstream, { table: `${db}.items`, rows: 5000, insertFrom: 100_000, seed: 3 }),
    startRowWriter(upstream, { table: `${db}.orders`, rows: 5000, insertFrom: 100_000, seed: 4 }),
  ];
  try {
    const started = await runCli(addr, ['start-task', taskFile]);
    assert.equal(started.code, 0, started.stdout);
    await waitForStatus(addr, 'osc', inSync, 180_000);
    const pt = await ptOnlineSchemaChange(upstream, db, 'items', "ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'pt'");
    assert.match(pt, /Successfully altered `osc_db`.`items`/);
    // The writers run through gh-ost's copy and stop before its cut-over (see ghOstMigrate).
    await ghOstMigrate(upstream, db, 'orders', 'ADD COLUMN qty INT NOT NULL DEFAULT 7, ADD INDEX by_k (k)', async () => {
      await Promise.all(writers.map((w) => w.stop()));
    });
    // Rows changed after each swap carry the new column.
    await execSql(upstream, [
      `UPDATE ${db}.items SET note = CONCAT('n', id % 10) WHERE id % 7 = 0`,
      `UPDATE ${db}.orders SET qty = id % 13 WHERE id % 5 = 0`,
    ]);
  } finally {
    const counts = await Promise.all(writers.map((w) => w.stop()));
    assert.ok(
      counts.every((n) => n > 50),
      `writers ran: ${counts.join(', ')} writes`,
    );
  }
  const status = await waitForCaughtUp(addr, 'osc', [upstream], 180_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  await assertSameTables(
    ['items', 'orders'].map((table) => ({ server: upstream, schema: db, table })),
    db,
    ['items', 'orders'],
  );
  // Each tool's ALTER ran once on the target, on the real table.
  const read = logRecords(dmq(), 'osc', 'DDL read').map((l) => String(l.statement));
  assert.deepEqual(
    read.filter((s) => /_(items|orders)_(new|gho|ghc|del|old)/.test(s)),
    [],
    'nothing about the tools’ tables is replicated',
  );
  assert.equal(read.filter((s) => /`osc_db`.`items` ADD COLUMN `note`/.test(s)).length, 1, read.join('\n'));
  assert.equal(read.filter((s) => /`osc_db`.`orders` ADD COLUMN `qty`/.test(s)).length, 1, read.join('\n'));
  const skipped = logRecords(dmq(), 'osc', 'DDL skipped: online schema change').map((l) => String(l.reason));
  assert.ok(
    skipped.some((r) => r.startsWith('recorded for the swap of shadow table `osc_db`.`_items_new`')),
    skipped.join('\n'),
  );
  assert.ok(
    skipped.some((r) => r.startsWith('recorded for the swap of shadow table `osc_db`.`_orders_gho`')),
    skipped.join('\n'),
  );
  assert.equal((await runCli(addr, ['stop-task', '--remove-meta', 'osc'])).code, 0);
});

test('a kill -9 of dmq between the ALTER of the ghost table and the cut-over loses nothing: the ALTER recorded on the target runs at the swap, then is forgotten', {
  timeout: 600_000,
}, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  const db = 'osc_kill';
  await execSql(upstream, itemsTable(db, 3000));
  const taskFile = await writeTask({ name: 'osckill', mode: 'all', schema: db });
  const first = dmq();
  const writer = startRowWriter(upstream, { table: `${db}.items`, rows: 3000, insertFrom: 100_000, seed: 9 });
  try {
    const started = await runCli(first.addr, ['start-task', taskFile]);
    assert.equal(started.code, 0, started.stdout);
    await waitForStatus(first.addr, 'osckill', inSync, 180_000);
    await ghOstMigrate(upstream, db, 'items', "ADD COLUMN extra VARCHAR(10) NOT NULL DEFAULT 'gh'", async () => {
      // The ALTER of the ghost table is recorded on the target, and the reader's checkpoint has
      // moved past it: a restart does not read it again.
      await until(
        'the recorded ALTER of the ghost table, behind the checkpoint',
        async () => {
          const [alter] = await queryRows(stack.target, "SELECT binlog_coord FROM dm_meta.osckill_onlineddl WHERE kind = 'ddl'");
          const [global] = await queryRows(
            stack.target,
            'SELECT CONCAT(binlog_name, ":", binlog_pos) FROM dm_meta.osckill_syncer_checkpoint WHERE is_global = 1',
          );
          if (alter === undefined || global === undefined) return undefined;
          const at = parseCoordText((JSON.parse(alter) as string[])[0]!);
          return compareCoords(parseCoordText((JSON.parse(global) as string[])[0]!), at) > 0 ? true : undefined;
        },
        180_000,
      );
      await first.kill();
      restarted = await startDmq({ dumpDir: first.dumpDir });
      await waitForStatus(restarted.addr, 'osckill', inSync, 60_000);
      await writer.stop();
    });
    await execSql(upstream, [`UPDATE ${db}.items SET extra = CONCAT('e', id % 4) WHERE id % 3 = 0`]);
  } finally {
    assert.ok((await writer.stop()) > 50);
  }
  assert.ok(restarted, 'dmq was killed and started again');
  const status = await waitForCaughtUp(restarted.addr, 'osckill', [upstream], 180_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  await assertSameTables([{ server: upstream, schema: db, table: 'items' }], db, ['items']);
  assert.equal(
    logRecords(restarted, 'osckill', 'DDL read').filter((l) => /ADD COLUMN `extra`/.test(String(l.statement))).length,
    1,
    'the restarted reader ran the recorded ALTER at the swap',
  );
  // Once the checkpoint passes the swap, the records of the ghost table are dropped.
  await until(
    'the records of the ghost table to be forgotten',
    async () => ((await queryRows(stack.target, 'SELECT COUNT(*) FROM dm_meta.osckill_onlineddl'))[0] === '["0"]' ? true : undefined),
    60_000,
  );
  assert.equal((await runCli(restarted.addr, ['stop-task', '--remove-meta', 'osckill'])).code, 0);
});

test('shard merge (pessimistic): pt-online-schema-change on one shard and gh-ost on the other add the same column; the merged table gets it once, when both have swapped', {
  timeout: 600_000,
}, async () => {
  const stack = await getStack();
  await seedTestTables(5000);
  const files = await exampleFiles({ extraTaskYaml: 'shard-mode: "pessimistic"' });
  const addr = (restarted ?? dmq()).addr;
  const writers = stack.upstreams.map((server, i) => startWriter(server, { parity: i as 0 | 1, seed: 31 + i }));
  const alter = "ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'x'";
  try {
    const started = await runCli(addr, ['start-task', files.task]);
    assert.equal(started.code, 0, started.stdout);
    await waitForStatus(addr, 'test', inSync, 180_000);
    await ptOnlineSchemaChange(stack.upstreams[0], 'test_db', 'test_table', alter);
    // The first shard's swap takes the lock; the merged table waits for the other shard.
    // The lock shows once the applier reaches the swap, behind the rows read before it.
    const waiting = await until('the shard DDL lock', async () => (await shardLocks(addr)).find((l) => l.arrived.length > 0), 180_000);
    assert.deepEqual(waiting.missing, ['mysql-replica-02:`test_db`.`test_table`']);
    assert.match(waiting.ddl, /^ALTER TABLE `test_db`.`test_table` ADD COLUMN `extra`/);
    assert.ok(!(await columnsOf(stack.target, 'test_db', 'test_table')).some((c) => c.startsWith('extra ')));
    await ghOstMigrate(stack.upstreams[1], 'test_db', 'test_table', alter, async () => {
      await Promise.all(writers.map((w) => w.stop()));
    });
    await until('the lock to resolve', async () => ((await shardLocks(addr)).length === 0 ? true : undefined), 180_000);
  } finally {
    const counts = await Promise.all(writers.map((w) => w.stop()));
    assert.ok(
      counts.every((n) => n > 50),
      `writers ran: ${counts.join(', ')} transactions`,
    );
  }
  const status = await waitForCaughtUp(addr, 'test', stack.upstreams, 180_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  await assertSameTables(
    stack.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    'test_db',
    ['test_table'],
  );
  assert.equal((await runCli(addr, ['stop-task', '--remove-meta', 'test'])).code, 0);
});
