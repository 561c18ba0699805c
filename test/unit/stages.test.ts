import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TaskMode } from '../../src/shared/config/types.js';
import type { TaskState, TaskUnit } from '../../src/shared/state/registry.js';
import { advance, copies, loadsAfterDump, queueKindOf, queueKindsOf, readsBinlog, replaysAfterCopy } from '../../src/shared/task/stages.js';

function freshState(sources: string[]): TaskState {
  return {
    stage: 'Running',
    createdAt: 0,
    updatedAt: 0,
    sources: Object.fromEntries(sources.map((id) => [id, { stage: 'Running' as const, unit: 'Check' as const }])),
  };
}

/** Advances one source from Check until it finishes, recording where it went. */
function walk(mode: TaskMode, replays?: boolean): string[] {
  const state = freshState(['a']);
  const source = () => state.sources.a!;
  const seen: string[] = [source().unit];
  for (let step = 0; step < 10 && source().stage === 'Running'; step++) {
    advance(state, mode, 'a', source().unit, step, replays === undefined ? {} : { replays });
    seen.push(source().stage === 'Finished' ? `Finished(${source().unit})` : source().unit);
  }
  return seen;
}

describe('stage table', () => {
  const walks: { mode: TaskMode; replays?: boolean; units: string[] }[] = [
    { mode: 'all', units: ['Check', 'Dump', 'Load', 'Sync', 'Finished(Load)'] },
    { mode: 'full', units: ['Check', 'Dump', 'Load', 'Sync', 'Finished(Load)'] },
    { mode: 'full', replays: false, units: ['Check', 'Dump', 'Load', 'Finished(Load)'] },
    { mode: 'incremental', units: ['Check', 'Sync', 'Finished(Sync)'] },
    { mode: 'dump', units: ['Check', 'Dump', 'Finished(Dump)'] },
    { mode: 'load', units: ['Check', 'Load', 'Finished(Load)'] },
  ];
  for (const w of walks) {
    test(`${w.mode}${w.replays === false ? ' without replay' : ''}: ${w.units.join(' → ')}`, () => {
      assert.deepEqual(walk(w.mode, w.replays), w.units);
    });
  }

  test('what each mode does', () => {
    const modes: TaskMode[] = ['all', 'full', 'incremental', 'dump', 'load'];
    const facts = modes.map((m) => [m, readsBinlog(m), replaysAfterCopy(m), copies(m), loadsAfterDump(m)]);
    assert.deepEqual(facts, [
      ['all', true, true, true, true],
      ['full', true, true, true, true],
      ['incremental', true, false, false, false],
      ['dump', false, false, true, false],
      ['load', false, false, true, true],
    ]);
  });

  test('queues of each mode, in unit order', () => {
    assert.deepEqual(queueKindsOf('all'), ['precheck', 'plan', 'dump', 'load', 'apply']);
    assert.deepEqual(queueKindsOf('incremental'), ['precheck', 'apply']);
    assert.deepEqual(queueKindsOf('dump'), ['precheck', 'plan', 'dump']);
    assert.deepEqual(queueKindsOf('load'), ['precheck', 'plan', 'load']);
  });

  test('a queue name tells its kind', () => {
    const names: [string, string | undefined][] = [
      ['precheck', 'precheck'],
      ['plan', 'plan'],
      ['dump.t.src-1', 'dump'],
      ['load.t.src-1', 'load'],
      ['apply.t.3', 'apply'],
      ['relay.t', undefined],
      ['', undefined],
    ];
    for (const [name, kind] of names) assert.equal(queueKindOf(name), kind, name);
  });
});

describe('advance', () => {
  test('moves only a running source that is still at the unit it leaves, so racing jobs agree', () => {
    const state = freshState(['a', 'b']);
    assert.equal(advance(state, 'all', 'a', 'Check', 1), true);
    assert.equal(advance(state, 'all', 'a', 'Check', 2), false, 'a second plan job of the same source');
    assert.equal(state.sources.a!.unit, 'Dump');
    assert.equal(state.sources.a!.unitStartedAt, 1);
    assert.equal(advance(state, 'all', 'missing', 'Check', 3), false);
    state.sources.b!.stage = 'Paused';
    assert.equal(advance(state, 'all', 'b', 'Check', 4), false);
  });

  test('the task finishes with its last source, and is paused when the rest are paused', () => {
    const state = freshState(['a', 'b']);
    const units: TaskUnit[] = ['Check', 'Dump'];
    for (const unit of units) advance(state, 'dump', 'a', unit, 1);
    assert.equal(state.sources.a!.stage, 'Finished');
    assert.equal(state.stage, 'Running');
    for (const unit of units) advance(state, 'dump', 'b', unit, 2);
    assert.equal(state.stage, 'Finished');
    assert.equal(state.finishedAt, 2);

    const paused = freshState(['a', 'b']);
    paused.sources.b!.stage = 'Paused';
    for (const unit of units) advance(paused, 'dump', 'a', unit, 1);
    assert.equal(paused.stage, 'Paused');
  });
});
