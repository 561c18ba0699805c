import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createJobCounts } from '../../src/processors/job-counts.js';

test('a job counts in a row until cleared', () => {
  const counts = createJobCounts();
  assert.deepEqual([counts.add('a'), counts.add('a'), counts.add('b'), counts.add('a')], [1, 2, 1, 3]);
  counts.clear('a');
  assert.equal(counts.add('a'), 1);
});

test('jobs that never come back are forgotten, oldest first, so the map stays bounded', () => {
  const counts = createJobCounts(3);
  counts.add('old');
  counts.add('kept');
  for (let i = 0; i < 1000; i++) counts.add(`gone-${i}`);
  assert.equal(counts.size, 3);
  assert.equal(counts.add('old'), 1, 'a forgotten job counts from 1 again');
  const recent = createJobCounts(2);
  recent.add('a');
  recent.add('b');
  recent.add('a');
  recent.add('c');
  assert.equal(recent.add('a'), 3, 'a job counted again recently is not the one forgotten');
});
