import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { registry, type TaskState } from '../../src/shared/state/registry.js';
import { redisUrl } from '../harness/stack.js';

const STATE_KEY = 'dmq:task:race:state';

test("a task's state update is not lost to another process's pause when its connection runs another transaction meanwhile", {
  timeout: 30_000,
}, async () => {
  const url = await redisUrl();
  // Two processes: this one applying (updating its source's unit), another pausing the task.
  const here = new Redis(url, { maxRetriesPerRequest: null });
  const there = new Redis(url, { maxRetriesPerRequest: null });
  try {
    const initial: TaskState = {
      stage: 'Running',
      createdAt: 1,
      updatedAt: 1,
      sources: { s1: { stage: 'Running', unit: 'Load' } },
    };
    await here.set(STATE_KEY, JSON.stringify(initial));
    await here.del('race:go');
    let first = true;
    const applying = registry(here).updateState('race', (state) => {
      if (first) {
        first = false;
        // Between reading the state and writing it back, something else in this process runs a
        // transaction on the same connection (BullMQ counting jobs, a task being removed) ...
        void here.multi().ping().exec();
        // ... and the connection is busy until the other process's pause has landed.
        void here.blpop('race:go', 0);
      }
      state.sources.s1!.unit = 'Sync';
    });
    const paused = await registry(there).updateState('race', (state) => {
      state.stage = 'Paused';
    });
    assert.equal(paused?.stage, 'Paused');
    await there.lpush('race:go', '1');
    await applying;
    const final = JSON.parse((await there.get(STATE_KEY))!) as TaskState;
    assert.equal(final.stage, 'Paused', 'the pause was not overwritten');
    assert.equal(final.sources.s1!.unit, 'Sync', 'the unit change was not lost either');
  } finally {
    await here.del(STATE_KEY, 'race:go');
    here.disconnect();
    there.disconnect();
  }
});
