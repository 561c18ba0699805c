import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import mysql from 'mysql2/promise';
import { QUEUE_PREFIX, chunkJobId, chunkQueueName } from '../../src/shared/queue/queues.js';
import { getStack, resetDatabases } from '../harness/stack.js';
import { inSync, runCli, startDmq, startDmqWorker, waitForStatus, type DmqServer, type DmqWorker } from '../support/dmq.js';
import { assertConverged, registerSources, startWriters, writeFaultTask } from '../support/fault-task.js';
import { execSql, seedTestTables } from '../support/fixtures.js';

/**
 * The direct copy (a chunk streamed from source to target, no file) under faults: a process
 * killed with -9 in the middle of a chunk, and a chunk delivered twice by BullMQ to processes
 * that share no dump directory. Each chunk is several target transactions (rows of ~6 kB, 2,000
 * to a chunk, 8 MiB to a transaction), writers change both upstreams all along, and the loader
 * refuses duplicates (`on-duplicate-logical: error`), so a row written twice pauses the task.
 */
let processes: { stop(): Promise<void> }[] = [];

before(async () => {
  await resetDatabases();
});

after(async () => {
  await Promise.all(processes.map((p) => p.stop()));
});

/** Rows of 3,000 bytes of blob (6,000 of hex in the INSERT): a 2,000-row chunk takes two transactions. */
async function seedWideRows(rows: number): Promise<void> {
  await seedTestTables(rows);
  for (const upstream of (await getStack()).upstreams) {
    await execSql(upstream, ["UPDATE test_db.test_table SET b = REPEAT(X'00FF0A27', 750)"]);
  }
}

/** The fault task, whose loader errors on a duplicate row instead of replacing it. */
async function strictTask(name: string): Promise<string> {
  const path = await writeFaultTask({ name });
  await writeFile(
    path,
    (await readFile(path, 'utf8')).replace('one: { pool-size: 2 }', 'one: { pool-size: 2, on-duplicate-logical: error }'),
  );
  return path;
}

interface ChunkRow {
  source_id: string;
  schema_name: string;
  table_name: string;
  chunk_index: number;
  load_offset: number;
  loaded_rows: number;
  file_key: string | null;
  loaded: number;
}

async function chunks(task: string): Promise<ChunkRow[]> {
  const conn = await mysql.createConnection((await getStack()).target);
  try {
    const [rows] = await conn
      .query<mysql.RowDataPacket[]>(
        `SELECT source_id, schema_name, table_name, chunk_index, load_offset, loaded_rows, file_key, loaded_at IS NOT NULL AS loaded
         FROM dm_meta.\`${task}_loader_checkpoint\``,
      )
      .catch((err: unknown) => {
        // Not there until the precheck creates it.
        if ((err as { errno?: number }).errno === 1146) return [[]] as unknown as [mysql.RowDataPacket[]];
        throw err;
      });
    return rows.map(
      (r) => ({ ...r, load_offset: Number(r.load_offset), loaded_rows: Number(r.loaded_rows), loaded: Number(r.loaded) }) as ChunkRow,
    );
  } finally {
    await conn.end();
  }
}

/** Polls until a chunk has committed rows and is not finished: the copy is in its middle. */
async function chunkInTheMiddle(task: string): Promise<ChunkRow> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const half = (await chunks(task)).find((c) => c.load_offset > 0 && !c.loaded);
    if (half) return half;
    if (Date.now() > deadline) throw new Error(`no chunk of ${task} was ever seen half copied: ${JSON.stringify(await chunks(task))}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The copy went the direct way: no chunk names a file, and no process left one in its dump directory. */
async function assertNoFiles(task: string, dumpDirs: string[]): Promise<void> {
  const all = await chunks(task);
  assert.ok(all.length > 4, `chunks: ${all.length}`);
  assert.deepEqual(
    all.filter((c) => c.file_key !== null || !c.loaded),
    [],
    'every chunk loaded directly',
  );
  for (const dir of dumpDirs) assert.deepEqual(await readdir(dir, { recursive: true }), [], `files in ${dir}`);
}

test('kill -9 in the middle of a directly copied chunk, restart on another dump directory: the chunk resumes after its last committed row', {
  timeout: 300_000,
}, async () => {
  await seedWideRows(8_000);
  const writers = await startWriters(301);
  let second: DmqServer;
  try {
    const first = await startDmq({ env: { DMQ_TAKEOVER_SECONDS: '5' } });
    processes = [first];
    await registerSources(first.addr);
    const started = await runCli(first.addr, ['start-task', await strictTask('direct')]);
    assert.equal(started.code, 0, started.stdout + started.stderr);

    const half = await chunkInTheMiddle('direct');
    await first.kill();
    // The kill came between two commits of the chunk: some of its rows are in, not all.
    const afterKill = (await chunks('direct')).find((c) => c.source_id === half.source_id && c.chunk_index === half.chunk_index)!;
    assert.ok(afterKill.loaded_rows > 0 && !afterKill.loaded, JSON.stringify(afterKill));

    second = await startDmq({ port: first.port, env: { DMQ_TAKEOVER_SECONDS: '5' } });
    processes = [second];
    await waitForStatus(second.addr, 'direct', inSync, 180_000);
  } finally {
    await writers.stop();
  }
  await assertConverged({ addr: second.addr, task: 'direct', logs: () => second.output() });
  await assertNoFiles('direct', [second.dumpDir]);
  await second.stop();
  processes = [];
});

test('a chunk delivered twice: its worker is stopped mid-chunk, a worker on another dump directory takes the job over, then the first goes on', {
  timeout: 300_000,
}, async () => {
  await resetDatabases();
  await seedWideRows(8_000);
  const stack = await getStack();
  const env = { DMQ_TAKEOVER_SECONDS: '5' };
  const writers = await startWriters(401);
  const url = new URL(stack.redis.url);
  const dirs = await Promise.all([mkdtemp(join(tmpdir(), 'dmq-host-a-')), mkdtemp(join(tmpdir(), 'dmq-host-b-'))]);
  let api: DmqServer;
  let workers: DmqWorker[] = [];
  try {
    api = await startDmq({ role: 'api', env });
    const first = await startDmqWorker({ dumpDir: dirs[0]!, env });
    workers = [first];
    processes = [api, first];
    await registerSources(api.addr);
    const started = await runCli(api.addr, ['start-task', await strictTask('twice')]);
    assert.equal(started.code, 0, started.stdout + started.stderr);

    const half = await chunkInTheMiddle('twice');
    first.child.kill('SIGSTOP');
    try {
      const second = await startDmqWorker({ dumpDir: dirs[1]!, env });
      workers.push(second);
      processes.push(second);
      // BullMQ gives the stopped worker's job to the second once its lock lapses.
      const queue = new Queue(chunkQueueName('dump', 'twice', half.source_id), {
        connection: { host: url.hostname, port: Number(url.port) },
        prefix: QUEUE_PREFIX,
      });
      try {
        const id = chunkJobId('dump', {
          task: 'twice',
          sourceId: half.source_id,
          schema: half.schema_name,
          table: half.table_name,
          index: half.chunk_index,
        });
        const deadline = Date.now() + 60_000;
        while (((await queue.getJob(id))?.stalledCounter ?? 0) === 0) {
          if (Date.now() > deadline) throw new Error(`job ${id} was never taken over`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await queue.close();
      }
    } finally {
      first.child.kill('SIGCONT');
    }
    await waitForStatus(api.addr, 'twice', inSync, 180_000);
  } finally {
    await writers.stop();
  }
  const logs = () => [api.output(), ...workers.map((w) => w.output())].join('\n');
  await assertConverged({ addr: api.addr, task: 'twice', logs });
  // Both deliveries ran the chunk: whichever came second to its checkpoint row stopped there.
  assert.match(logs(), /chunk copied on by another delivery of its job; this one stops/);
  await assertNoFiles('twice', dirs);
});
