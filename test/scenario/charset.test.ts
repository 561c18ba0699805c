import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getStack } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp, waitForStatus } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';

/**
 * Aurora MySQL 2 and many older servers default to latin1. Names and values that latin1 cannot
 * hold must still arrive: every table dmq creates (dm_meta, target schemas) states its charset.
 */
const server = dmqForFile({ registerSources: 1 });

/** TiDB has latin1_bin only, and utf8mb4_bin is its default. */
const collation = (kind: string, charset: 'latin1' | 'utf8mb4') =>
  kind === 'tidb' ? `${charset}_bin` : charset === 'latin1' ? 'latin1_swedish_ci' : 'utf8mb4_general_ci';

async function setServerCharset(charset: 'latin1' | 'utf8mb4'): Promise<void> {
  const stack = await getStack();
  const servers = [...stack.upstreams.map((server) => ({ server, kind: 'mariadb' })), { server: stack.target, kind: stack.targetKind }];
  for (const { server, kind } of servers) {
    await execSql(server, [`SET GLOBAL character_set_server = ${charset}`, `SET GLOBAL collation_server = ${collation(kind, charset)}`]);
  }
}

before(() => setServerCharset('latin1'));
after(() => setServerCharset('utf8mb4'));

/** A schema whose table and column names, and some of whose values, are not latin1. */
function cjkSchema(schema: string, rows: number): string[] {
  return [
    `CREATE DATABASE ${schema} CHARACTER SET utf8mb4`,
    `CREATE TABLE ${schema}.\`顧客\` (\`番号\` INT PRIMARY KEY, \`名前\` VARCHAR(40) CHARACTER SET utf8mb4, \`メモ\` TEXT CHARACTER SET utf8mb4, plain VARCHAR(20) CHARACTER SET latin1) DEFAULT CHARSET = utf8mb4`,
    `INSERT INTO ${schema}.\`顧客\` SELECT seq, CONCAT('名前-', seq, ' 😀'), CONCAT('メモ ', seq), CONCAT('caf', CHAR(233 USING latin1)) FROM ${schema}.seq_1_to_${rows}`,
  ];
}

test('latin1 servers at both ends: CJK table and column names and values copy exactly in full mode', { timeout: 180_000 }, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], cjkSchema('latin_full', 3000));
  const task = await writeTask({ name: 'latin-full', mode: 'full', schema: 'latin_full', instance: ['mydumper: { rows: 500 }'] });
  const started = await runCli(server().addr, ['start-task', task]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  const status = await waitForStatus(server().addr, 'latin-full', (s) => s.stage === 'Finished' || s.stage === 'Paused');
  assert.equal(status.stage, 'Finished', JSON.stringify(status, null, 2));
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'latin_full', table: '顧客' }], {
    server: stack.target,
    schema: 'latin_full',
    table: '顧客',
  });
  assert.equal(actual.length, 3000);
  assert.deepEqual(actual, expected);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'latin-full'])).code, 0);
});

test('latin1 servers at both ends: all mode replicates CJK names and values, a new CJK table too', { timeout: 180_000 }, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  await execSql(upstream, cjkSchema('latin_all', 2000));
  const task = await writeTask({ name: 'latin-all', mode: 'all', schema: 'latin_all', instance: ['mydumper: { rows: 500 }'] });
  const started = await runCli(server().addr, ['start-task', task]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  await execSql(upstream, [
    "UPDATE latin_all.`顧客` SET `名前` = CONCAT(`名前`, ' 更新') WHERE `番号` % 7 = 0",
    'DELETE FROM latin_all.`顧客` WHERE `番号` % 11 = 0',
    "INSERT INTO latin_all.`顧客` VALUES (900001, '新しい', 'メモ', 'plain')",
    // Created during replication with no charset clause: it takes the schema's utf8mb4 on both sides.
    'CREATE TABLE latin_all.`注文` (`番号` INT PRIMARY KEY, `品物` VARCHAR(30))',
    "INSERT INTO latin_all.`注文` VALUES (1, '本'), (2, 'お茶')",
  ]);
  const status = await waitForCaughtUp(server().addr, 'latin-all', [upstream]);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  for (const table of ['顧客', '注文']) {
    const { expected, actual } = await compareMerged([{ server: upstream, schema: 'latin_all', table }], {
      server: stack.target,
      schema: 'latin_all',
      table,
    });
    assert.ok(actual.length > 0, table);
    assert.deepEqual(actual, expected, table);
  }
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'latin-all'])).code, 0);
});
