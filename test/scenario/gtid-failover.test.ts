import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startReplicaPair } from '../harness/replica-pair.js';
import type { Endpoint } from '../harness/servers.js';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { inSync, runCli, startDmq, taskStatus, waitForCaughtUp, waitForStatus, type DmqServer } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';
import { until } from '../support/shard-locks.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startWriter } from '../support/writer.js';

const SOURCE = 'gtid-src';
const TASK = 'failover';

let pair: Awaited<ReturnType<typeof startReplicaPair>> | undefined;
let dmq: DmqServer | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await dmq?.stop();
  await pair?.stop();
});

/** A source.yaml for the source on `server`. */
async function sourceFile(server: Endpoint, fields: { enableGtid: boolean; flavor?: string; id?: string }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dmq-gtid-source-'));
  const path = join(dir, 'source.yaml');
  await writeFile(
    path,
    [
      `source-id: ${fields.id ?? SOURCE}`,
      `enable-gtid: ${fields.enableGtid}`,
      `flavor: ${fields.flavor ?? 'mariadb'}`,
      `from: { host: ${server.host}, port: ${server.port}, user: ${server.user}, password: "${server.password}" }`,
    ].join('\n'),
  );
  return path;
}

async function gtidPosition(server: Endpoint): Promise<string> {
  const [row] = await queryRows(server, 'SELECT @@GLOBAL.gtid_binlog_pos');
  return (JSON.parse(row!) as string[])[0]!;
}

/** Waits until the task has applied what `server` wrote so far, and is still Running (not paused by an error). */
async function caughtUpOn(server: Endpoint, options: { synced: boolean }): Promise<void> {
  const live = dmq!;
  const status = await waitForCaughtUp(live.addr, TASK, [server], 180_000, options);
  assert.equal(status.stage, 'Running', `${JSON.stringify(status, null, 2)}\n--- dmq logs (tail) ---\n${live.output().slice(-10_000)}`);
}

test('GTID failover: an all task on A, its source switched to the replica B mid-sync with operate-source update, kill -9 right after; writers go on on A (through B), then on B alone: every row equal', {
  timeout: 420_000,
}, async () => {
  const stack = await getStack();
  pair = await startReplicaPair([101, 102]);
  const { primary: a, replica: b } = pair;
  await execSql(a, [
    'CREATE DATABASE test_db',
    'CREATE TABLE test_db.test_table (id INT PRIMARY KEY, k INT, c VARCHAR(200), b BLOB, KEY (k))',
    "INSERT INTO test_db.test_table SELECT seq * 2, seq % 1000, CONCAT('row ', seq), NULL FROM test_db.seq_0_to_2999",
    'CREATE TABLE test_db.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(40))',
  ]);
  await pair.caughtUp();
  dmq = await startDmq();
  const created = await runCli(dmq.addr, ['operate-source', 'create', await sourceFile(a, { enableGtid: true })]);
  assert.equal(created.code, 0, created.stdout + created.stderr);
  const started = await runCli(dmq.addr, ['start-task', await writeTask({ name: TASK, mode: 'all', schema: 'test_db', sourceId: SOURCE })]);
  assert.equal(started.code, 0, started.stdout + started.stderr);

  const onA = startWriter(a, { parity: 0, seed: 61, perSecond: 80 });
  let onB: ReturnType<typeof startWriter> | undefined;
  try {
    await waitForStatus(dmq.addr, TASK, inSync, 180_000);
    await caughtUpOn(a, { synced: false });

    // Refused, naming the field: another address without GTIDs, another flavor.
    const withoutGtid = await runCli(dmq.addr, ['operate-source', 'update', await sourceFile(b, { enableGtid: false })]);
    assert.notEqual(withoutGtid.code, 0, withoutGtid.stdout);
    assert.match(withoutGtid.stdout + withoutGtid.stderr, /without GTIDs.*enable-gtid/s);
    const otherFlavor = await runCli(dmq.addr, ['operate-source', 'update', await sourceFile(b, { enableGtid: true, flavor: 'mysql' })]);
    assert.notEqual(otherFlavor.code, 0, otherFlavor.stdout);
    assert.match(otherFlavor.stdout + otherFlavor.stderr, /flavor/);

    // The switch, with the writers on A still going: the reader goes on from B, which replicates them.
    const switched = await runCli(dmq.addr, ['operate-source', 'update', await sourceFile(b, { enableGtid: true })]);
    assert.equal(switched.code, 0, switched.stdout + switched.stderr);
    const first = dmq;
    await until(
      'the reader to switch to B',
      async () => (first.output().includes('source switched to another server') ? true : undefined),
      120_000,
    );
    // kill -9 right after the checkpoints were rebased: the next process resumes from them on B.
    await first.kill();
    dmq = await startDmq({ dumpDir: first.dumpDir });
    await caughtUpOn(b, { synced: false });

    // A fails over to B: what A wrote reaches B, then B stands alone and takes the writes.
    assert.ok((await onA.stop()) > 20, 'writers on A ran');
    await pair.caughtUp();
    await pair.promoteReplica();
    onB = startWriter(b, { parity: 0, seed: 62, perSecond: 80 });
    await caughtUpOn(b, { synced: false });
    assert.ok((await onB.stop()) > 20, 'writers on B ran');
  } finally {
    await onA.stop().catch(() => undefined);
    await onB?.stop().catch(() => undefined);
  }

  await caughtUpOn(b, { synced: true });
  const sync = (await taskStatus(dmq.addr, TASK)).sources[0]!.subTaskStatus[0]!.sync as unknown as Record<string, string>;
  const onBNow = await gtidPosition(b);
  assert.equal(sync.masterBinlogGtid, onBNow, "masterBinlogGtid is B's gtid_binlog_pos");
  assert.equal(sync.syncerBinlogGtid, onBNow, 'syncerBinlogGtid: everything B wrote is applied');
  for (const table of ['test_table', 'audit']) {
    const { expected, actual } = await compareMerged([{ server: b, schema: 'test_db', table }], {
      server: stack.target,
      schema: 'test_db',
      table,
    });
    assert.equal(actual.length, expected.length, `row count of ${table}`);
    assert.deepEqual(actual, expected, `rows of ${table}`);
  }
});

test('without enable-gtid, a source whose address now reaches another server (a failover behind one endpoint) pauses the task with the field to set; pointed back, it resumes', {
  timeout: 300_000,
}, async () => {
  const stack = await getStack();
  const { primary: a, replica: b } = pair!;
  const endpoint = await startTcpProxy(a);
  try {
    await execSql(a, [
      'CREATE DATABASE endpoint_db',
      'CREATE TABLE endpoint_db.t (id INT PRIMARY KEY, v VARCHAR(20))',
      "INSERT INTO endpoint_db.t SELECT seq, CONCAT('v', seq) FROM endpoint_db.seq_1_to_100",
    ]);
    const live = dmq!;
    const id = 'endpoint-src';
    const created = await runCli(live.addr, [
      'operate-source',
      'create',
      await sourceFile({ ...a, ...endpoint }, { enableGtid: false, id }),
    ]);
    assert.equal(created.code, 0, created.stdout + created.stderr);
    const task = await writeTask({ name: 'endpoint', mode: 'all', schema: 'endpoint_db', sourceId: id });
    const started = await runCli(live.addr, ['start-task', task]);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    await waitForStatus(live.addr, 'endpoint', inSync, 180_000);
    await execSql(a, ["UPDATE endpoint_db.t SET v = 'before' WHERE id <= 10"]);
    await waitForStatus(live.addr, 'endpoint', (s) => s.sources[0]!.subTaskStatus[0]!.sync?.synced === true, 120_000);

    endpoint.pointTo(b);
    const paused = await waitForStatus(live.addr, 'endpoint', (s) => s.stage === 'Paused', 120_000);
    const error = paused.sources[0]!.subTaskStatus[0]!.result!.errors[0]!;
    assert.match(error.Message, /now reaches server mariadb:102, not mariadb:101.*without enable-gtid/s);
    assert.match(error.Workaround, /enable-gtid: true/);

    endpoint.pointTo(a);
    await execSql(a, ["UPDATE endpoint_db.t SET v = 'after' WHERE id > 90"]);
    const resumed = await runCli(live.addr, ['resume-task', 'endpoint']);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const status = await waitForCaughtUp(live.addr, 'endpoint', [a], 180_000);
    assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
    const { expected, actual } = await compareMerged([{ server: a, schema: 'endpoint_db', table: 't' }], {
      server: stack.target,
      schema: 'endpoint_db',
      table: 't',
    });
    assert.deepEqual(actual, expected, 'rows of endpoint_db.t');
  } finally {
    await endpoint.close();
  }
});
