import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { quoteId } from '../../src/shared/sql/quote.js';
import { startStack, stackInfo, SYSTEM_SCHEMAS, type Endpoint, type StackInfo } from './servers.js';

let stack: Promise<StackInfo> | undefined;

/**
 * The suite-wide stack that scripts/test.sh started (DMQ_TEST_STACK names its JSON file), or,
 * when a test file runs on its own, a private stack stopped when this process is done.
 */
export function getStack(): Promise<StackInfo> {
  stack ??= loadStack();
  return stack;
}

async function loadStack(): Promise<StackInfo> {
  const file = process.env.DMQ_TEST_STACK;
  if (file) return JSON.parse(await readFile(file, 'utf8')) as StackInfo;
  const started = await startStack();
  // 'beforeExit' allows the graceful async stop; a signal or process.exit still kills the
  // servers through the harness's exit hook.
  process.once('beforeExit', () => {
    started.stop().catch((err: unknown) => {
      console.error('stopping the private test stack failed:', err);
      process.exitCode = 1;
    });
  });
  return stackInfo(started);
}

/** Upstream `index` (0 or 1; the examples' mysql-replica-01 and -02) as DM's `from` wants it. */
export async function sourceEndpoint(index: 0 | 1): Promise<Endpoint> {
  return (await getStack()).upstreams[index];
}

export async function targetEndpoint(): Promise<Endpoint> {
  return (await getStack()).target;
}

export async function redisUrl(): Promise<string> {
  return (await getStack()).redis.url;
}

/** Drops what earlier tests left: user schemas (dm_meta too), upstream binlogs, Redis keys. */
export async function resetDatabases(): Promise<void> {
  const { upstreams, target, redis } = await getStack();
  await Promise.all([
    resetMariadb(upstreams[0], true),
    resetMariadb(upstreams[1], true),
    resetMariadb(target, false),
    flushRedis(redis.url),
  ]);
}

async function resetMariadb(server: Endpoint, binlog: boolean): Promise<void> {
  const conn = await mysql.createConnection(server);
  try {
    // A connection an earlier test left in a transaction would block DROP forever; fail instead.
    await conn.query('SET SESSION lock_wait_timeout = 10');
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT schema_name AS name FROM information_schema.schemata');
    for (const { name } of rows) {
      if (!SYSTEM_SCHEMAS.includes(String(name).toLowerCase())) await conn.query(`DROP DATABASE ${quoteId(String(name))}`);
    }
    if (binlog) await conn.query('RESET MASTER');
  } catch (err) {
    throw new Error(`resetting ${server.host}:${server.port} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await conn.end();
  }
}

async function flushRedis(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    await client.flushall();
  } finally {
    client.disconnect();
  }
}
