import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import {
  runCli,
  startDmq,
  startDmqWorker,
  waitForCaughtUp,
  waitForStatus,
  type DmqServer,
  type DmqWorker,
  inSync,
} from '../support/dmq.js';
import { exampleFiles, seedTestTables } from '../support/fixtures.js';
import { startWriter } from '../support/writer.js';

/**
 * Split brain: the process holding a source's binlog reader is paused (SIGSTOP) for longer than
 * its Redis lease, the other worker takes the reader over, then the paused one resumes. It must
 * step down without writing: no reconnect with the shared server_id (which would kill the new
 * reader's binlog dump) and no job of its own applied. One API process and two workers.
 */
const SOURCES = ['mysql-replica-01', 'mysql-replica-02'];
let processes: (DmqServer | DmqWorker)[] = [];
let redis: Redis | undefined;

before(async () => {
  await resetDatabases();
  redis = new Redis((await getStack()).redis.url);
});

after(async () => {
  for (const p of processes) {
    if (p.child.signalCode === 'SIGSTOP') p.child.kill('SIGCONT');
    await p.stop();
  }
  redis?.disconnect();
});

interface LogLine {
  msg: string;
  source?: string;
  pid?: number;
}

const logLines = (p: { output(): string }, from = 0): LogLine[] =>
  p
    .output()
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

const count = (lines: LogLine[], msg: string | RegExp, source: string) =>
  lines.filter((l) => l.source === source && (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg))).length;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The pid in the lease key's owner (host/pid/id). */
async function leasePid(source: string): Promise<number | undefined> {
  const owner = await redis!.get(`dmq:lease:tailer:test:${source}`);
  return owner ? Number(owner.split('/')[1]) : undefined;
}

async function fenceEpochs(): Promise<Map<string, number>> {
  const conn = await mysql.createConnection((await getStack()).target);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT source_id, epoch FROM dm_meta.test_reader_fence ORDER BY source_id');
    return new Map(rows.map((r) => [String(r.source_id), Number(r.epoch)]));
  } finally {
    await conn.end();
  }
}

test('a reader paused past its lease steps down when it resumes: the new reader keeps its binlog connection, every row ends equal', {
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  await seedTestTables(2000);
  const files = await exampleFiles();
  // A lease of 5 s instead of 15: the pause and the takeover take less of the suite's time.
  const env = { DMQ_TAKEOVER_SECONDS: '5' };
  const api = await startDmq({ role: 'api', env });
  const workers = [await startDmqWorker({ dumpDir: api.dumpDir, env }), await startDmqWorker({ dumpDir: api.dumpDir, env })];
  processes = [api, ...workers];
  assert.equal((await runCli(api.addr, ['operate-source', 'create', ...files.sources])).code, 0);
  const started = await runCli(api.addr, ['start-task', files.task]);
  assert.equal(started.code, 0, started.stdout);

  let writers = stack.upstreams.map((server, i) => startWriter(server, { parity: i as 0 | 1, seed: 31 + i }));
  let transactions = 0;
  await waitForStatus(api.addr, 'test', inSync, 120_000);
  await new Promise((r) => setTimeout(r, 2000));
  // Paused while its appliers are idle: a process paused inside a target transaction holds its
  // table's checkpoint row, and every applier of that table (and the next reader's fence) waits.
  transactions += (await Promise.all(writers.map((w) => w.stop()))).reduce((a, b) => a + b, 0);
  await waitForCaughtUp(api.addr, 'test', stack.upstreams);

  const holderPid = await until('a reader lease', () => leasePid(SOURCES[0]!));
  const old = workers.find((w) => w.child.pid === holderPid)!;
  const successor = workers.find((w) => w !== old)!;
  assert.ok(old, `the lease names a worker: pid ${holderPid}`);
  const held: string[] = [];
  for (const source of SOURCES) if ((await leasePid(source)) === holderPid) held.push(source);
  const epochsBefore = await fenceEpochs();

  const successorFrom = successor.output().length;
  old.child.kill('SIGSTOP');
  writers = stack.upstreams.map((server, i) => startWriter(server, { parity: i as 0 | 1, seed: 41 + i }));
  try {
    // The other worker takes over every reader the paused one held, and applies new changes.
    await until('the takeover', async () => {
      for (const source of held) if ((await leasePid(source)) !== successor.child.pid) return undefined;
      return held.every((source) => count(logLines(successor, successorFrom), 'binlog reader started', source) > 0) ? true : undefined;
    });
    // Writers still run: caught up with what was written before now, not synced.
    await waitForCaughtUp(api.addr, 'test', stack.upstreams, 90_000, { synced: false });
    const oldFrom = old.output().length;
    old.child.kill('SIGCONT');
    await until('the paused reader to step down', () =>
      held.every((source) => count(logLines(old, oldFrom), /stepped down|steps down/, source) > 0) ? true : undefined,
    );
    // Writers go on while the resumed process runs its timers and its broken binlog connection fails.
    await new Promise((r) => setTimeout(r, 4000));
    const resumed = logLines(old, oldFrom);
    for (const source of held) {
      assert.equal(count(resumed, 'binlog reader started', source), 0, `the resumed process did not reconnect to ${source}`);
    }
  } finally {
    transactions += (await Promise.all(writers.map((w) => w.stop()))).reduce((a, b) => a + b, 0);
  }
  const final = await waitForCaughtUp(api.addr, 'test', stack.upstreams, 90_000);
  assert.equal(final.stage, 'Running', JSON.stringify(final, null, 2));
  assert.ok(transactions > 100, `writers ran: ${transactions} transactions`);

  const afterTakeover = logLines(successor, successorFrom);
  for (const source of held) {
    assert.equal(
      count(afterTakeover, 'binlog reader started', source),
      1,
      `the new reader of ${source} started once and was never restarted`,
    );
    assert.equal(count(afterTakeover, /binlog reader failed/, source), 0, `the new reader of ${source} kept its binlog connection`);
    assert.equal(await leasePid(source), successor.child.pid);
  }
  const epochsAfter = await fenceEpochs();
  for (const source of held) {
    const [before, now] = [epochsBefore.get(source)!, epochsAfter.get(source)!];
    assert.ok(now > before, `the new reader of ${source} raised the fence: ${before} → ${now}`);
  }
  const refused = processes.reduce((n, p) => n + logLines(p).filter((l) => /apply job refused/.test(l.msg)).length, 0);
  console.log(`held ${held.join(', ')}; ${transactions} writer transactions; ${refused} stale apply jobs refused`);

  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    { server: stack.target, schema: 'test_db', table: 'test_table' },
  );
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);
});

test('a reader that lost its lease raises the fence after the current one connected: the current one reconnects above it and every row ends equal', {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  const api = processes[0] as DmqServer;
  const source = SOURCES[0]!;
  const holderPid = await until('a reader lease', () => leasePid(source));
  const holder = processes.find((p) => p.child.pid === holderPid)!;
  const from = holder.output().length;
  // What a process resumed in the middle of connecting does before it sees its lease is gone.
  const conn = await mysql.createConnection(stack.target);
  try {
    await conn.query('UPDATE dm_meta.test_reader_fence SET epoch = epoch + 1 WHERE source_id = ?', [source]);
  } finally {
    await conn.end();
  }
  const raised = (await fenceEpochs()).get(source)!;
  const writers = stack.upstreams.map((server, i) => startWriter(server, { parity: i as 0 | 1, seed: 51 + i }));
  await new Promise((r) => setTimeout(r, 3000));
  const transactions = (await Promise.all(writers.map((w) => w.stop()))).reduce((a, b) => a + b, 0);
  const final = await waitForCaughtUp(api.addr, 'test', stack.upstreams, 90_000);
  assert.equal(final.stage, 'Running', JSON.stringify(final, null, 2));
  assert.ok(transactions > 10, `writers ran: ${transactions} transactions`);
  assert.ok(count(logLines(holder, from), /binlog reader failed/, source) > 0, 'the reader of the overtaken fence reconnected');
  assert.ok((await fenceEpochs()).get(source)! > raised, 'and raised the fence above the stale raise');

  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    { server: stack.target, schema: 'test_db', table: 'test_table' },
  );
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);
});
