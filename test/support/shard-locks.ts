import assert from 'node:assert/strict';
import { runCli } from './dmq.js';

export interface ShardLock {
  id: string;
  seq: number;
  ddl: string;
  arrived: string[];
  missing: string[];
}

/** The task's shard DDL locks, as `dmq shard-ddl-lock <task>` lists them. */
export async function shardLocks(addr: string, task = 'test'): Promise<ShardLock[]> {
  const listed = await runCli(addr, ['shard-ddl-lock', task]);
  assert.equal(listed.code, 0, listed.stdout + listed.stderr);
  return (JSON.parse(listed.stdout) as { locks: ShardLock[] }).locks;
}

/** Polls `probe` until it returns a value; fails naming `what` if none comes in time. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
