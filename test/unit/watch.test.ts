import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderWatch, settledStage, type WatchedStatus } from '../../src/cli/watch.js';

const MiB = 1 << 20;

type SubTask = NonNullable<WatchedStatus['sources']>[number]['subTaskStatus'][number];

function status(unit: string, over: Partial<SubTask> = {}): WatchedStatus {
  return {
    stage: 'Running',
    taskMode: 'all',
    sources: [
      {
        sourceStatus: { source: 'mysql-replica-01' },
        subTaskStatus: [
          {
            stage: 'Running',
            unit,
            result: null,
            // 6 of 8 chunks dumped: 600k rows in 60 MiB at 10 MiB/s (6 s), 200k rows left → 2 s.
            dump: {
              totalChunks: 8,
              completedChunks: 6,
              finishedRows: 600_000,
              finishedBytes: 60 * MiB,
              estimateTotalRows: 800_000,
              bps: 10 * MiB,
            },
            // 2 chunks (20 of the 60 MiB dumped) loaded at 4 MiB/s: 40 MiB left → 10 s.
            load: { totalBytes: 60 * MiB, finishedBytes: 20 * MiB, finishedRows: 200_000, completedChunks: 2, bps: 4 * MiB },
            sync: {
              synced: false,
              secondsBehindMaster: 75,
              pendingBatches: 1234,
              recentTps: 950,
              syncerBinlog: 'mysql-bin.000003:400',
              masterBinlog: 'mysql-bin.000003:9000',
            },
            ...over,
          },
        ],
      },
    ],
  };
}

test('watch view: dump and load bars with counts, rates and ETA', () => {
  const lines = renderWatch('test', status('Load'), 200);
  assert.equal(lines[0], 'task test  Running  mode all');
  assert.equal(lines[2], 'mysql-replica-01  Running  Load');
  assert.match(lines[3]!, /^ {2}dump {2}\[#+\.+\] {2}75\.0% {2}6\/8 chunks {2}600,000 rows {2}60\.0 MiB {2}10\.0 MiB\/s {2}ETA 2 s$/);
  assert.match(lines[4]!, /^ {2}load {2}\[#+\.+\] {2}25\.0% {2}2\/8 chunks {2}200,000 rows {2}20\.0 MiB {2}4\.0 MiB\/s {2}ETA 10 s$/);
  assert.equal(lines.length, 5, 'no sync line before the Sync unit');
});

test('watch view: lag, backlog and rate in sync; errors with their workaround; long lines cut to the width', () => {
  const sync = renderWatch(
    'test',
    status('Sync', {
      result: { errors: [{ ErrCode: 'TARGET_UNREACHABLE', Message: 'the target cannot be reached', Workaround: 'dmq keeps retrying' }] },
    }),
    200,
  );
  assert.ok(
    sync.includes(
      '  sync  catching up  lag 1 min 15 s  pending 1,234 batches  950 txn/s  applied mysql-bin.000003:400  source mysql-bin.000003:9000',
    ),
  );
  assert.ok(sync.includes('  error TARGET_UNREACHABLE: the target cannot be reached'));
  assert.ok(sync.includes('        dmq keeps retrying'));
  for (const line of renderWatch('test', status('Sync'), 60)) assert.ok(line.length <= 60, line);
});

test('watch view: a finished dump shows 100% and no ETA; watching ends when the task settles', () => {
  const done = renderWatch(
    'test',
    status('Load', {
      dump: {
        totalChunks: 8,
        completedChunks: 8,
        finishedRows: 800_000,
        finishedBytes: 80 * MiB,
        estimateTotalRows: 800_000,
        bps: 10 * MiB,
      },
    }),
    200,
  );
  assert.match(done[3]!, /100\.0% {2}8\/8 chunks/);
  assert.doesNotMatch(done[3]!, /ETA/);
  assert.equal(settledStage('Finished'), true);
  assert.equal(settledStage('Paused'), true);
  assert.equal(settledStage('Running'), false);
});
