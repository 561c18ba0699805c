import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encryptPassword } from '../../src/shared/config/password.js';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { runCli, startDmq, taskStatus, waitForStatus, type DmqServer } from '../support/dmq.js';
import { execSql, exampleFiles } from '../support/fixtures.js';

const DB = 'odd db.名';
const TABLES = {
  wide: 'we`ird.t ble 表',
  composite: 'composite key',
  nokey: 'no key',
};

let dmq: DmqServer | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await dmq?.stop();
});

function q(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

test('kill -9 during load, restart: every table finishes exact, no chunk loaded twice', { timeout: 240_000 }, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  await execSql(upstream, [
    `CREATE DATABASE ${q(DB)}`,
    `CREATE TABLE ${q(DB)}.${q(TABLES.wide)} (id INT PRIMARY KEY, ${q('co`l 列')} VARCHAR(200), n DOUBLE, g INT AS (id * 2) VIRTUAL)`,
    `INSERT INTO ${q(DB)}.${q(TABLES.wide)} (id, ${q('co`l 列')}, n) SELECT seq, CONCAT('row ', seq, ' ', REPEAT('x', 150)), seq / 7 FROM ${q(DB)}.seq_1_to_200000`,
    `CREATE TABLE ${q(DB)}.${q(TABLES.composite)} (a VARCHAR(20) NOT NULL, b INT NOT NULL, v TEXT, PRIMARY KEY (a, b))`,
    `INSERT INTO ${q(DB)}.${q(TABLES.composite)} SELECT CONCAT('k', seq % 97), seq, REPEAT('v', seq % 50) FROM ${q(DB)}.seq_1_to_30000`,
    `CREATE TABLE ${q(DB)}.${q(TABLES.nokey)} (x INT, y VARCHAR(10))`,
    `INSERT INTO ${q(DB)}.${q(TABLES.nokey)} SELECT seq % 10, 'dup' FROM ${q(DB)}.seq_1_to_3000`,
    `ANALYZE TABLE ${q(DB)}.${q(TABLES.wide)}, ${q(DB)}.${q(TABLES.composite)}, ${q(DB)}.${q(TABLES.nokey)}`,
  ]);

  const files = await exampleFiles();
  const taskFile = join(files.dir, 'odd-task.yaml');
  await writeFile(
    taskFile,
    `
name: "odd"
task-mode: full
target-database:
  host: "127.0.0.1"
  port: ${stack.target.port}
  user: "root"
  password: "${encryptPassword(stack.target.password)}"
mysql-instances:
  - source-id: "mysql-replica-01"
    block-allow-list: "odd"
    mydumper-config-name: "small-chunks"
    loader-config-name: "strict"
block-allow-list:
  odd:
    do-dbs: ["~^odd"]
mydumpers:
  small-chunks:
    threads: 2
    rows: 4000
loaders:
  strict:
    pool-size: 2
    on-duplicate-logical: error
`,
  );

  dmq = await startDmq();
  const dumpDir = dmq.dumpDir;
  assert.equal((await runCli(dmq.addr, ['operate-source', 'create', files.sources[0]!])).code, 0);
  const started = await runCli(dmq.addr, ['start-task', taskFile]);
  assert.equal(started.code, 0, started.stdout);

  // Kill while some chunks are loaded and others are not.
  const midLoad = await waitForStatus(
    dmq.addr,
    'odd',
    (s) => {
      const load = s.sources[0]!.subTaskStatus[0]!.load;
      const dump = s.sources[0]!.subTaskStatus[0]!.dump;
      return load.completedChunks >= 3 && load.completedChunks < dump.totalChunks;
    },
    60_000,
  );
  const before = midLoad.sources[0]!.subTaskStatus[0]!;
  await dmq.kill();

  dmq = await startDmq({ dumpDir });
  const status = await waitForStatus(dmq.addr, 'odd', (s) => s.stage === 'Finished' || s.stage === 'Paused', 180_000);
  assert.equal(status.stage, 'Finished', JSON.stringify(status, null, 2));
  const sub = status.sources[0]!.subTaskStatus[0]!;
  assert.ok(sub.dump.totalChunks > before.load.completedChunks, 'the kill happened before the last chunk was loaded');
  assert.equal(sub.load.finishedRows, 200_000 + 30_000 + 3_000, 'each row loaded exactly once');

  for (const table of Object.values(TABLES)) {
    const { expected, actual } = await compareMerged([{ server: upstream, schema: DB, table }], {
      server: stack.target,
      schema: DB,
      table,
    });
    assert.equal(actual.length, expected.length, `row count of ${table}`);
    assert.deepEqual(actual, expected, `rows of ${table}`);
  }
  assert.equal((await taskStatus(dmq.addr, 'odd')).stage, 'Finished');
});
