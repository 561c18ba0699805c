import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getStack } from '../harness/stack.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';

/**
 * `~^([a-z]+_?)+\d$` against a 40-letter name keeps a backtracking engine busy for hours (and
 * the process with it). dmq matches task patterns on RE2: the task runs, and the pattern picks
 * exactly the tables it names.
 */
const server = dmqForFile({ registerSources: 1 });

const PATTERN = '~^([a-z]+_?)+\\d$';
const LONG_LETTERS = 'abcdefghijklmnopqrstuvwxyzabcdefghijklmn';
const LONG_PARTS = 'a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p_q_r_s_xy';

const table = (name: string, base: number) => [
  `CREATE TABLE pat.\`${name}\` (id INT PRIMARY KEY, v VARCHAR(40))`,
  `INSERT INTO pat.\`${name}\` SELECT seq + ${base}, CONCAT('${name.slice(0, 10)} ', seq) FROM pat.seq_1_to_50`,
];

test(`block-allow-list and route patterns like ${PATTERN} select the right tables against 40-character names, zero diff`, {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  assert.equal(LONG_LETTERS.length, 40);
  assert.equal(LONG_PARTS.length, 40);
  await execSql(upstream, [
    'CREATE DATABASE pat',
    ...table('plain_table_3', 0),
    ...table('shard_part_1', 0),
    ...table('shard_part_2', 1000),
    ...table(LONG_LETTERS, 0),
    ...table(LONG_PARTS, 0),
    ...table('orders_12', 0),
  ]);
  const task = await writeTask({
    name: 'patterns',
    mode: 'all',
    schema: 'pat',
    instance: ['route-rules: [shards]'],
    list: `do-tables: [{ db-name: pat, tbl-name: ${JSON.stringify(PATTERN)} }]`,
    extra: [
      'routes:',
      `  shards: { schema-pattern: pat, table-pattern: ${JSON.stringify('~^shard_([a-z]+_?)+\\d$')}, target-schema: pat_merged, target-table: shards }`,
    ].join('\n'),
  });
  const started = await runCli(server().addr, ['start-task', task]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  assert.equal((await waitForCaughtUp(server().addr, 'patterns', [upstream], 120_000)).stage, 'Running');

  await execSql(upstream, [
    ...table('late_table_9', 0),
    ...table('zyxwvutsrqponmlkjihgfedcbazyxwvutsrqponm', 0),
    "UPDATE pat.plain_table_3 SET v = 'changed' WHERE id <= 10",
    'DELETE FROM pat.shard_part_2 WHERE id > 1040',
    `UPDATE pat.\`${LONG_LETTERS}\` SET v = 'not replicated'`,
  ]);
  const status = await waitForCaughtUp(server().addr, 'patterns', [upstream]);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));

  assert.deepEqual(
    await queryRows(
      stack.target,
      "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('pat', 'pat_merged') ORDER BY 1, 2",
    ),
    [
      ['pat', 'late_table_9'],
      ['pat', 'plain_table_3'],
      ['pat_merged', 'shards'],
    ].map((r) => JSON.stringify(r)),
    'only the tables the pattern names, the shards merged by the route',
  );
  for (const name of ['plain_table_3', 'late_table_9']) {
    const { expected, actual } = await compareMerged([{ server: upstream, schema: 'pat', table: name }], {
      server: stack.target,
      schema: 'pat',
      table: name,
    });
    assert.equal(actual.length, 50, name);
    assert.deepEqual(actual, expected, name);
  }
  const { expected, actual } = await compareMerged(
    ['shard_part_1', 'shard_part_2'].map((name) => ({ server: upstream, schema: 'pat', table: name })),
    { server: stack.target, schema: 'pat_merged', table: 'shards' },
  );
  assert.equal(actual.length, 90);
  assert.deepEqual(actual, expected);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'patterns'])).code, 0);
});
