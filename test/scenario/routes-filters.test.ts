import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../harness/servers.js';
import { getStack } from '../harness/stack.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp, waitForStatus, type TaskStatus } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';

const dmq = dmqForFile({ registerSources: 1 });

const synced = (s: TaskStatus) =>
  s.sources.every((src) => src.subTaskStatus[0]!.unit === 'Sync' && src.subTaskStatus[0]!.sync?.synced === true);

/** What the merged table must hold: each shard's rows with the values the route extracts. */
async function shardRows(server: Endpoint): Promise<string[]> {
  return queryRows(
    server,
    "SELECT id, v, '1', 'mysql-replica-01' FROM shard_db.t_1 UNION ALL SELECT id, v, '2', 'mysql-replica-01' FROM shard_db.t_2",
  );
}

test('routes merge two tables into one with extract-table and extract-source, and event filters ignore, forbid and pass events through a whole task', {
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE shard_db',
    'CREATE TABLE shard_db.t_1 (id INT PRIMARY KEY, v VARCHAR(20))',
    'CREATE TABLE shard_db.t_2 (id INT PRIMARY KEY, v VARCHAR(20))',
    'CREATE TABLE shard_db.other (id INT PRIMARY KEY, v VARCHAR(20))',
    // The shards use the same ids: the extracted column tells their rows apart.
    "INSERT INTO shard_db.t_1 SELECT seq, CONCAT('one ', seq) FROM shard_db.seq_1_to_200",
    "INSERT INTO shard_db.t_2 SELECT seq, CONCAT('two ', seq) FROM shard_db.seq_1_to_200",
    "INSERT INTO shard_db.other SELECT seq, CONCAT('other ', seq) FROM shard_db.seq_1_to_50",
  ]);
  // As DM asks, the merged table is made with the extract columns in its key.
  await execSql(stack.target, [
    'CREATE DATABASE merged_db',
    'CREATE TABLE merged_db.t (id INT NOT NULL, v VARCHAR(20), c_table VARCHAR(10) NOT NULL, c_source VARCHAR(40) NOT NULL, PRIMARY KEY (c_table, id))',
  ]);
  const taskFile = await writeTask({
    name: 'merge',
    mode: 'all',
    schema: 'shard_db',
    instance: ['route-rules: [shards]', 'filter-rules: [keep-deleted, keep-truncated, no-drop]'],
    extra: [
      'routes:',
      '  shards:',
      '    schema-pattern: shard_db',
      '    table-pattern: "t_*"',
      '    target-schema: merged_db',
      '    target-table: t',
      '    extract-table: { table-regexp: "t_(.*)", target-column: c_table }',
      '    extract-source: { source-regexp: "(.*)", target-column: c_source }',
      'filters:',
      '  keep-deleted: { schema-pattern: shard_db, table-pattern: "t_*", events: [delete], action: Ignore }',
      '  keep-truncated: { schema-pattern: shard_db, events: [truncate table], action: Ignore }',
      '  no-drop: { schema-pattern: shard_db, table-pattern: t_2, sql-pattern: ["^DROP\\\\s+TABLE"], action: Error }',
    ].join('\n'),
  });
  const addr = dmq().addr;
  const started = await runCli(addr, ['start-task', taskFile]);
  assert.equal(started.code, 0, started.stdout);
  await waitForStatus(addr, 'merge', (s) => s.stage !== 'Running' || synced(s), 120_000);
  const merged = () => queryRows(stack.target, 'SELECT id, v, c_table, c_source FROM merged_db.t');
  assert.deepEqual(await merged(), await shardRows(stack.upstreams[0]), 'the copy merges both shards');

  await execSql(stack.upstreams[0], [
    "INSERT INTO shard_db.t_1 SELECT seq, CONCAT('one new ', seq) FROM shard_db.seq_201_to_260",
    "INSERT INTO shard_db.t_2 SELECT seq, CONCAT('two new ', seq) FROM shard_db.seq_201_to_260",
    "UPDATE shard_db.t_1 SET v = CONCAT(v, ' upd') WHERE id % 10 = 0",
    'UPDATE shard_db.t_2 SET id = id + 1000 WHERE id % 25 = 0',
    "UPDATE shard_db.other SET v = 'changed' WHERE id < 10",
    'DELETE FROM shard_db.other WHERE id > 40',
  ]);
  assert.equal((await waitForCaughtUp(addr, 'merge', [stack.upstreams[0]])).stage, 'Running');
  const expected = await shardRows(stack.upstreams[0]);
  assert.deepEqual(await merged(), expected, 'inserts and updates of both shards land in their own rows');

  // Ignored: the deletes and the truncate; the merged table keeps those rows.
  await execSql(stack.upstreams[0], [
    'DELETE FROM shard_db.t_2 WHERE id < 100',
    'TRUNCATE TABLE shard_db.t_1',
    "INSERT INTO shard_db.t_1 VALUES (5000, 'after truncate')",
    'DROP TABLE shard_db.t_2',
    "INSERT INTO shard_db.other VALUES (500, 'after drop')",
  ]);
  const paused = await waitForStatus(addr, 'merge', (s) => s.stage === 'Paused', 60_000);
  const error = paused.sources[0]!.subTaskStatus[0]!.result!.errors[0]!;
  assert.equal(error.ErrCode, 'EVENT_FILTERED');
  assert.match(error.Message, /filter rule "no-drop" forbids drop table on `shard_db`.`t_2`/);
  assert.match(error.Workaround, /binlog skip merge -b/);
  const skipped = await runCli(addr, ['binlog', 'skip', 'merge', '-b', error.ErrScope]);
  assert.equal(skipped.code, 0, skipped.stdout);
  assert.equal((await waitForCaughtUp(addr, 'merge', [stack.upstreams[0]])).stage, 'Running');

  assert.deepEqual(await merged(), [...expected, JSON.stringify(['5000', 'after truncate', '1', 'mysql-replica-01'])].sort());
  const other = await compareMerged([{ server: stack.upstreams[0], schema: 'shard_db', table: 'other' }], {
    server: stack.target,
    schema: 'shard_db',
    table: 'other',
  });
  assert.deepEqual(other.actual, other.expected, 'a table no rule routes or filters replicates as it is');
  assert.equal((await runCli(addr, ['stop-task', '--remove-meta', 'merge'])).code, 0);
});
