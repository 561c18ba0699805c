import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack } from '../harness/stack.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { dmqForFile, runCli, waitForStatus } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';

/**
 * A chunk's dump file key lives in the target's meta schema, which anyone with write access to
 * the target can change. A key naming a file outside the dump directory (`../…` or an absolute
 * path) must be neither read nor deleted: the load pauses naming the chunk and the row.
 */
const server = dmqForFile({ registerSources: 1 });

const CHUNKS = 'dm_meta.`keys_loader_checkpoint`';
const taskFile = (mode: string) => writeTask({ name: 'keys', mode, schema: 'keys', instance: ['mydumper: { rows: 10 }'] });

test('a dump file key in dm_meta that points outside the dump directory is neither read nor deleted; the task pauses naming the row', {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE `keys`',
    'CREATE TABLE `keys`.t (id INT PRIMARY KEY, v VARCHAR(30))',
    "INSERT INTO `keys`.t SELECT seq, CONCAT('row ', seq) FROM `keys`.seq_1_to_40",
  ]);
  assert.equal((await runCli(server().addr, ['start-task', await taskFile('dump')])).code, 0);
  const dumped = await waitForStatus(server().addr, 'keys', (s) => s.stage !== 'Running', 60_000);
  assert.equal(dumped.stage, 'Finished', JSON.stringify(dumped, null, 2));
  assert.equal((await runCli(server().addr, ['stop-task', 'keys'])).code, 0);

  // Files an attacker would like read or deleted, written as valid chunk lines: had the load
  // read one, its row would be on the target.
  const outside = join(dirname(server().dumpDir), `canary-${randomBytes(4).toString('hex')}`);
  const canaries = [`${outside}-relative.sql`, `${outside}-absolute.sql`];
  const content = "(424242,'canary')\n";
  for (const file of canaries) await writeFile(file, content);
  try {
    const original = await queryRows(stack.target, `SELECT chunk_index, file_key, file_bytes FROM ${CHUNKS} ORDER BY chunk_index`);
    const conn = await mysql.createConnection(stack.target);
    try {
      const forged = [relative(server().dumpDir, canaries[0]!), canaries[1]!];
      assert.match(forged[0]!, /^\.\.\//);
      for (const [index, key] of forged.entries()) {
        await conn.execute(`UPDATE ${CHUNKS} SET file_key = ?, file_bytes = ? WHERE chunk_index = ?`, [key, content.length, index]);
      }
    } finally {
      await conn.end();
    }

    assert.equal((await runCli(server().addr, ['start-task', await taskFile('load')])).code, 0);
    const paused = await waitForStatus(server().addr, 'keys', (s) => s.stage !== 'Running', 60_000);
    assert.equal(paused.stage, 'Paused', JSON.stringify(paused, null, 2));
    const error = paused.sources[0]!.subTaskStatus[0]!.result!.errors[0]!;
    assert.equal(error.ErrCode, 'DUMP_KEY_INVALID', error.Message);
    assert.match(
      error.Message,
      /source "mysql-replica-01" table `keys`.`t` chunk [01]: the `dm_meta`.`keys_loader_checkpoint` row \(source_id, schema_name, table_name, chunk_index\) = \("mysql-replica-01", "keys", "t", "[01]"\) names the dump file ".*canary-[0-9a-f]+-(relative|absolute)\.sql", which is not a file of this chunk in .*; nothing was read or deleted/,
    );
    assert.match(error.Workaround, /check who may write to the target meta schema/);
    for (const file of canaries) {
      assert.equal(await readFile(file, 'utf8'), content, `${file} is still there, unchanged`);
      assert.ok((await stat(file)).isFile());
    }
    // The pause may come before any load job created the target table: then nothing was loaded either.
    const [created] = await queryRows(
      stack.target,
      "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'keys' AND table_name = 't'",
    );
    if (created !== '["0"]') {
      assert.deepEqual(
        await queryRows(stack.target, 'SELECT COUNT(*) FROM `keys`.t WHERE id = 424242'),
        ['["0"]'],
        'nothing of a canary was loaded',
      );
    }

    // Put the rows back as dmq wrote them: the load goes on from there and copies exactly.
    const restore = await mysql.createConnection(stack.target);
    try {
      for (const [index, key, bytes] of original.map((r) => JSON.parse(r) as [string, string, string])) {
        await restore.execute(`UPDATE ${CHUNKS} SET file_key = ?, file_bytes = ? WHERE chunk_index = ?`, [key, bytes, index]);
      }
    } finally {
      await restore.end();
    }
    assert.equal((await runCli(server().addr, ['resume-task', 'keys'])).code, 0);
    const loaded = await waitForStatus(server().addr, 'keys', (s) => s.stage !== 'Running', 60_000);
    assert.equal(loaded.stage, 'Finished', JSON.stringify(loaded, null, 2));
    const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'keys', table: 't' }], {
      server: stack.target,
      schema: 'keys',
      table: 't',
    });
    assert.equal(actual.length, 40);
    assert.deepEqual(actual, expected);
  } finally {
    for (const file of canaries) await rm(file, { force: true });
  }
});
