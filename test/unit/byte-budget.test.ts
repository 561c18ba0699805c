import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BudgetShare, ByteBudget } from '../../src/shared/memory/byte-budget.js';

/** Which of the claims have been granted after pending callbacks ran. */
async function granted(claims: { done: boolean }[]): Promise<boolean[]> {
  await new Promise((resolve) => setImmediate(resolve));
  return claims.map((c) => c.done);
}

function claim(budget: ByteBudget, bytes: number): { done: boolean } {
  const c = { done: false };
  void budget.take(bytes).then(() => (c.done = true));
  return c;
}

describe('ByteBudget', () => {
  test('grants claims that fit at once and holds the rest until bytes come back', async () => {
    const budget = new ByteBudget(10);
    const claims = [claim(budget, 4), claim(budget, 6), claim(budget, 1)];
    assert.deepEqual(await granted(claims), [true, true, false]);
    assert.equal(budget.held, 10);
    budget.give(4);
    assert.deepEqual(await granted(claims), [true, true, true]);
    assert.equal(budget.held, 7);
    assert.equal(budget.peak, 10);
  });

  test('grants in the order claimed: a large claim is not passed over by later small ones', async () => {
    const budget = new ByteBudget(10);
    const claims = [claim(budget, 8), claim(budget, 5), claim(budget, 1)];
    // 1 byte would fit beside the 8, but the 5 before it waits, so it waits too.
    assert.deepEqual(await granted(claims), [true, false, false]);
    assert.equal(budget.tryTake(1), false);
    budget.give(8);
    assert.deepEqual(await granted(claims), [true, true, true]);
    assert.equal(budget.held, 6);
  });

  test('tryTake holds what fits at once and leaves the rest untaken', () => {
    const budget = new ByteBudget(10);
    assert.equal(budget.tryTake(6), true);
    assert.equal(budget.tryTake(5), false);
    assert.equal(budget.held, 6);
    const share = new BudgetShare(budget);
    assert.equal(share.tryTake(4), true);
    assert.equal(share.held, 4);
    share.close();
    assert.equal(share.tryTake(1), false);
    assert.equal(budget.held, 6);
  });

  test('a claim larger than the whole budget waits until nothing is held, then goes alone', async () => {
    const budget = new ByteBudget(10);
    const claims = [claim(budget, 3), claim(budget, 25), claim(budget, 1)];
    assert.deepEqual(await granted(claims), [true, false, false]);
    budget.give(3);
    assert.deepEqual(await granted(claims), [true, true, false]);
    assert.equal(budget.peak, 25);
    budget.give(25);
    assert.deepEqual(await granted(claims), [true, true, true]);
  });

  test('refuses to take back more than it holds, and a budget that is not a positive integer', () => {
    const budget = new ByteBudget(10);
    assert.throws(() => budget.give(1), RangeError);
    assert.throws(() => new ByteBudget(0), RangeError);
    assert.throws(() => new ByteBudget(1.5), RangeError);
  });
});

describe('BudgetShare', () => {
  test('close gives back what the job still holds', async () => {
    const budget = new ByteBudget(10);
    const share = new BudgetShare(budget);
    await share.take(4);
    await share.take(3);
    share.give(4);
    assert.equal(share.held, 3);
    share.close();
    assert.equal(budget.held, 0);
  });

  test('a claim granted after the job closed is given back at once', async () => {
    const budget = new ByteBudget(10);
    const other = new BudgetShare(budget);
    await other.take(10);
    const share = new BudgetShare(budget);
    const waiting = share.take(5);
    share.close();
    other.give(10);
    await assert.rejects(waiting, /stopped while it waited/);
    assert.equal(budget.held, 0);
  });
});
