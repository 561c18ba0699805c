import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import mysql from 'mysql2/promise';
import type { ApplyJob, Batch, DdlBarrier } from '../../src/shared/binlog/batch.js';
import { QUEUE_PREFIX, applyJobOptions, applyQueueName } from '../../src/shared/queue/queues.js';
import { getStack } from '../harness/stack.js';
import { dmqForFile, runCli } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';

/**
 * Apply jobs delivered twice at the same time, as BullMQ does when a job's lock lapses while its
 * first delivery still runs (a Redis outage, a paused worker): here the same job is queued
 * twice under two ids, in two apply partitions, which run at once. And jobs of a binlog reader
 * that another has replaced. Real jobs in the real queues, applied by a real dmq process to the
 * real target; the task's reader only supplies the fencing epoch (its source schema stays idle).
 */
const server = dmqForFile({ registerSources: 1 });
const TASK = 'red';
const SOURCE = 'mysql-replica-01';
const F = 'fake-bin.000001';

let queues: Queue[] = [];

before(async () => {
  const { redis } = await getStack();
  const url = new URL(redis.url);
  const connection = { host: url.hostname, port: Number(url.port) };
  queues = [0, 1, 2].map((n) => new Queue(applyQueueName(TASK, n), { connection, prefix: QUEUE_PREFIX }));
});

after(async () => {
  for (const q of queues) await q.close();
});

async function onTarget<T>(fn: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection((await getStack()).target);
  try {
    return await fn(conn);
  } finally {
    await conn.end();
  }
}

const count = (table: string) =>
  onTarget(async (c) => Number((await c.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM red.${table}`))[0][0]!.n));

const checkpoint = (table: string) =>
  onTarget(async (c) => {
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      'SELECT binlog_name, binlog_pos FROM dm_meta.red_syncer_checkpoint WHERE source_id = ? AND schema_name = ? AND table_name = ?',
      [SOURCE, 'red', table],
    );
    return rows[0] ? `${rows[0].binlog_name}:${rows[0].binlog_pos}` : undefined;
  });

const fenceEpoch = () =>
  onTarget(async (c) => {
    const [rows] = await c
      .query<mysql.RowDataPacket[]>('SELECT epoch FROM dm_meta.red_reader_fence WHERE source_id = ?', [SOURCE])
      .catch((err: unknown) => {
        // Not there until the reader first connects.
        if ((err as { errno?: number }).errno === 1146) return [[]] as unknown as [mysql.RowDataPacket[]];
        throw err;
      });
    return rows[0] ? Number(rows[0].epoch) : 0;
  });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function job(
  table: string,
  batch: Omit<Batch, 'safe' | 'eventTime' | 'gtid'>,
  options: { startIfMissing?: boolean; epoch?: number },
): ApplyJob {
  return {
    task: TASK,
    sourceId: SOURCE,
    schema: 'red',
    table,
    target: { schema: 'red', table },
    columns: ['a', 'b'],
    key: [],
    startIfMissing: options.startIfMissing ?? false,
    ...(options.epoch === undefined ? {} : { epoch: options.epoch }),
    batches: [{ safe: false, eventTime: Date.now(), gtid: null, ...batch }],
  };
}

const inserts = (rows: number, label: string) =>
  Array.from({ length: rows }, (_, i) => ({ op: 'insert' as const, after: [i, `${label}${i % 7}`] }));

async function add(partition: number, id: string, data: ApplyJob): Promise<string> {
  // Kept once completed, unlike dmq's own apply jobs, so the test can read what each one did.
  await queues[partition]!.add('apply', data, { ...applyJobOptions, removeOnComplete: false, jobId: id });
  return id;
}

/** The job's return value once it completed (a failed job fails the test with its reason). */
async function outcome(partition: number, id: string): Promise<string> {
  return until(`job ${id}`, async () => {
    const state = await queues[partition]!.getJobState(id);
    if (state !== 'completed' && state !== 'failed') return undefined;
    // Read after the state: a job read while active has no return value yet.
    const j = (await queues[partition]!.getJob(id))!;
    if (state === 'failed') throw new Error(`job ${id} failed: ${j.failedReason}`);
    return String(j.returnvalue);
  });
}

test('an incremental task runs; its reader has raised the fence', { timeout: 120_000 }, async () => {
  const stack = await getStack();
  // The task needs a table to migrate; nothing writes to it.
  await execSql(stack.upstreams[0], ['CREATE DATABASE red', 'CREATE TABLE red.idle (a INT PRIMARY KEY)']);
  await execSql(stack.target, [
    'CREATE DATABASE red',
    'CREATE TABLE red.idle (a INT PRIMARY KEY)',
    ...[0, 1, 2, 3].map((n) => `CREATE TABLE red.first_${n} (a INT, b VARCHAR(20))`),
    'CREATE TABLE red.ddl_t (a INT, b VARCHAR(20))',
    'CREATE TABLE red.fence_t (a INT, b VARCHAR(20))',
    'CREATE TABLE red.lane_t (a INT PRIMARY KEY, b VARCHAR(20))',
  ]);
  const conn = await mysql.createConnection(stack.upstreams[0]);
  const [master] = await conn.query<mysql.RowDataPacket[]>('SHOW MASTER STATUS');
  await conn.end();
  const task = await writeTask({
    name: TASK,
    mode: 'incremental',
    schema: 'red',
    instance: [`meta: { binlog-name: "${master[0]!.File}", binlog-pos: ${master[0]!.Position} }`],
  });
  const started = await runCli(server().addr, ['start-task', task]);
  assert.equal(started.code, 0, started.stdout);
  assert.ok((await until('the fence', async () => ((await fenceEpoch()) > 0 ? fenceEpoch() : undefined))) >= 1);
});

test("two deliveries at once of a keyless table's first batch apply it once", { timeout: 60_000 }, async () => {
  const epoch = await fenceEpoch();
  const ids: [number, string][] = [];
  for (const n of [0, 1, 2, 3]) {
    const data = job(`first_${n}`, { prev: `${F}:4`, coord: `${F}:100`, changes: inserts(4000, 'r') }, { startIfMissing: true, epoch });
    ids.push([0, await add(0, `first|${n}|a`, data)], [1, await add(1, `first|${n}|b`, data)]);
  }
  const outcomes = await Promise.all(ids.map(([p, id]) => outcome(p, id)));
  for (const n of [0, 1, 2, 3]) {
    assert.equal(await count(`first_${n}`), 4000, `rows of first_${n}`);
    assert.equal(await checkpoint(`first_${n}`), `${F}:100`);
  }
  assert.equal(outcomes.filter((o) => o === 'covered').length, 4, `one delivery of each is covered: ${outcomes.join(' ')}`);
});

test("two deliveries at once of each lane's first batch apply it once; a join queued before them waits for both lanes", {
  timeout: 60_000,
}, async () => {
  const epoch = await fenceEpoch();
  const keyed = (data: ApplyJob, lane?: number): ApplyJob => ({
    ...data,
    key: ['a'],
    ...(lane === undefined ? {} : { lane: { index: lane, count: 2 } }),
  });
  const start = keyed(
    job(
      'lane_t',
      { prev: `${F}:4`, coord: `${F}:50`, changes: [{ op: 'insert', after: [1000, 'start'] }] },
      { startIfMissing: true, epoch },
    ),
  );
  assert.equal(await outcome(0, await add(0, 'lane|start', start)), 'applied');
  const waits = [0, 1].map((index) => ({ schema: 'red', table: 'lane_t', lane: { index, count: 2 }, coord: `${F}:100` }));
  const join = keyed(
    job('lane_t', { prev: `${F}:50`, coord: `${F}:200`, changes: [{ op: 'delete', before: [1000, 'start'] }], join: waits }, { epoch }),
  );
  const joinId = await add(2, 'lane|join', join);
  const ids: [number, string][] = [];
  for (const lane of [0, 1]) {
    const changes = Array.from({ length: 500 }, (_, i) => ({ op: 'insert' as const, after: [lane * 500 + i, `l${lane}`] }));
    const data = keyed(job('lane_t', { prev: `${F}:50`, coord: `${F}:100`, changes }, { epoch }), lane);
    ids.push([0, await add(0, `lane|${lane}|a`, data)], [1, await add(1, `lane|${lane}|b`, data)]);
  }
  const outcomes = await Promise.all(ids.map(([p, id]) => outcome(p, id)));
  assert.equal(outcomes.filter((o) => o === 'covered').length, 2, `one delivery of each lane's batch is covered: ${outcomes.join(' ')}`);
  assert.equal(await outcome(2, joinId), 'applied');
  assert.equal(await count('lane_t'), 1000, 'every lane row once, the join applied after them');
  assert.equal(await checkpoint('lane_t'), `${F}:200`);
  const lanes = await onTarget(async (c) => {
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      "SELECT lane, binlog_name, binlog_pos FROM dm_meta.red_syncer_lane WHERE table_name = 'lane_t' ORDER BY lane",
    );
    return rows.map((r) => `${r.lane}@${r.binlog_name}:${r.binlog_pos}`);
  });
  assert.deepEqual(lanes, [`0@${F}:100`, `1@${F}:100`]);
});

test('a DDL delivered again while it runs is not run again after later rows; its checkpoint never moves back', {
  timeout: 60_000,
}, async () => {
  const epoch = await fenceEpoch();
  const start = job('ddl_t', { prev: `${F}:4`, coord: `${F}:100`, changes: inserts(2, 'before') }, { startIfMissing: true, epoch });
  assert.equal(await outcome(0, await add(0, 'ddl|start', start)), 'applied');
  // A long DDL (as an ADD INDEX on a big table): DO SLEEP stands in for its duration, then the
  // TRUNCATE, which wipes whatever a second run finds.
  const ddl: DdlBarrier = {
    source: 'TRUNCATE TABLE ddl_t',
    kind: 'truncate table',
    target: ['DO SLEEP(3)', 'TRUNCATE TABLE `red`.`ddl_t`'],
    after: [],
    shard: 'none',
  };
  const barrier = job('ddl_t', { prev: `${F}:100`, coord: `${F}:200`, changes: [], ddl }, { epoch });
  const rows = job('ddl_t', { prev: `${F}:200`, coord: `${F}:300`, changes: inserts(3, 'after') }, { epoch });
  await add(0, 'ddl|first', barrier);
  // The first delivery has marked the DDL as started: it runs now.
  await until('the DDL marker', () =>
    onTarget(async (c) => {
      const [r] = await c.query<mysql.RowDataPacket[]>('SELECT binlog_coord FROM dm_meta.red_syncer_ddl WHERE table_name = ?', ['ddl_t']);
      return r[0] ? true : undefined;
    }),
  );
  await add(1, 'ddl|again', barrier);
  await add(2, 'ddl|rows', rows);
  const seen: string[] = [];
  const watch = setInterval(() => void checkpoint('ddl_t').then((c) => c && seen.at(-1) !== c && seen.push(c)), 50);
  const outcomes = await Promise.all([outcome(0, 'ddl|first'), outcome(1, 'ddl|again'), outcome(2, 'ddl|rows')]);
  clearInterval(watch);
  assert.equal(await checkpoint('ddl_t'), `${F}:300`, 'the checkpoint ends after the rows, not back at the DDL');
  assert.equal(await count('ddl_t'), 3, 'the rows after the TRUNCATE are there, once; those before it are gone');
  const order = [`${F}:100`, `${F}:200`, `${F}:300`];
  assert.deepEqual(
    seen,
    [...seen].sort((x, y) => order.indexOf(x) - order.indexOf(y)),
    `the checkpoint only moved forward: ${seen.join(' → ')}`,
  );
  assert.deepEqual(outcomes, ['applied', 'covered', 'applied'], 'the second delivery found the DDL done');
});

test("a job of a replaced reader is refused in its checkpoint transaction; the current reader's is applied", {
  timeout: 60_000,
}, async () => {
  const epoch = await fenceEpoch();
  const start = job('fence_t', { prev: `${F}:4`, coord: `${F}:100`, changes: inserts(1, 'start') }, { startIfMissing: true, epoch });
  assert.equal(await outcome(0, await add(0, 'fence|start', start)), 'applied');
  const next = { prev: `${F}:100`, coord: `${F}:200`, changes: inserts(5, 'next') };
  // Cut by the reader before the current one, and queued by a release without fencing.
  assert.equal(await outcome(0, await add(0, 'fence|old', job('fence_t', next, { epoch: epoch - 1 }))), 'fenced');
  assert.equal(await outcome(0, await add(0, 'fence|none', job('fence_t', next, {}))), 'fenced');
  assert.equal(await count('fence_t'), 1, 'nothing of the refused jobs was written');
  assert.equal(await checkpoint('fence_t'), `${F}:100`, 'the checkpoint stays');
  assert.match(server().output(), /apply job refused: cut by a binlog reader that another has replaced since/);
  assert.equal(await outcome(0, await add(0, 'fence|current', job('fence_t', next, { epoch }))), 'applied');
  assert.equal(await count('fence_t'), 6);
  assert.equal(await checkpoint('fence_t'), `${F}:200`);
});
