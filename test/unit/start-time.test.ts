import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStartScan, lastFileStartingBefore, parseStartTime, type ScannedEvent } from '../../src/shared/binlog/start-time.js';

test("start-time in DM's formats: wall-clock in the source's zone, or absolute with an offset", () => {
  assert.deepEqual(parseStartTime('2026-12-07 10:00:00'), { kind: 'wall-clock', text: '2026-12-07 10:00:00' });
  assert.deepEqual(parseStartTime('2026-12-07T10:00:00'), { kind: 'wall-clock', text: '2026-12-07 10:00:00' });
  assert.deepEqual(parseStartTime('2026-12-07T10:00:00+08:00'), { kind: 'absolute', epochSeconds: Date.UTC(2026, 11, 7, 2) / 1000 });
  assert.deepEqual(parseStartTime('2026-12-07T10:00:00Z'), { kind: 'absolute', epochSeconds: Date.UTC(2026, 11, 7, 10) / 1000 });
  for (const bad of ['2026-12-07', '10:00:00', '2026-12-07 10:00', 'yesterday', '2026-12-07 10:00:00 UTC', '2026-12-07T25:00:00+00:00'])
    assert.equal(parseStartTime(bad), undefined, bad);
});

test('the file to scan is the last one that starts before the time, found by binary search', async () => {
  const starts = [100, 200, 300, 300, 400];
  const asked: number[] = [];
  const search = (at: number) =>
    lastFileStartingBefore(starts.length, at, async (i) => {
      asked.push(i);
      return starts[i]!;
    });
  assert.equal(await search(50), -1, 'before the oldest file');
  assert.equal(await search(100), -1, 'the oldest file starts at that very second');
  assert.equal(await search(150), 0);
  assert.equal(await search(300), 1, 'files starting at that second may follow transactions of it');
  assert.equal(await search(301), 3);
  assert.equal(await search(10_000), 4);
  asked.length = 0;
  await search(250);
  assert.ok(asked.length <= Math.ceil(Math.log2(starts.length)) + 1, `asked ${asked.length} files`);
  assert.equal(await lastFileStartingBefore(0, 1, async () => 0), -1);
});

const ev = (name: string, seconds: number, nextPosition: number, query?: string): ScannedEvent => ({
  name,
  timestamp: seconds * 1000,
  nextPosition,
  ...(query === undefined ? {} : { query }),
});

function scan(events: ScannedEvent[], at: number) {
  const s = createStartScan('bin.000002', at);
  for (const e of events) {
    const found = s.see(e);
    if (found) return found;
  }
  return undefined;
}

test('the scan starts right before the first transaction at or after the time (MariaDB: GTID events)', () => {
  const events = [
    ev('format', 10, 256),
    ev('mariadbgtidlist', 10, 285),
    ev('binlogcheckpoint', 10, 329),
    ev('mariadbgtid', 11, 371),
    ev('xid', 11, 500),
    ev('mariadbgtid', 12, 542),
    ev('query', 12, 650, 'ALTER TABLE t ADD c INT'),
    ev('mariadbgtid', 14, 692),
    ev('xid', 14, 800),
  ];
  assert.deepEqual(scan(events, 11), { file: 'bin.000002', pos: 329 });
  assert.deepEqual(scan(events, 12), { file: 'bin.000002', pos: 500 });
  assert.deepEqual(scan(events, 13), { file: 'bin.000002', pos: 650 });
  assert.equal(scan(events, 15), undefined, 'nothing that late in this file');
});

test('without GTIDs a BEGIN or a DDL query opens a transaction; queries inside one do not', () => {
  const events = [
    ev('format', 10, 120),
    ev('query', 11, 200, 'BEGIN'),
    ev('xid', 11, 300),
    ev('query', 12, 380, 'CREATE TABLE t (id INT)'),
    ev('query', 13, 440, 'BEGIN'),
    ev('query', 14, 500, 'COMMIT'),
    ev('query', 15, 560, 'BEGIN'),
    ev('xid', 15, 600),
  ];
  assert.deepEqual(scan(events, 12), { file: 'bin.000002', pos: 300 });
  assert.deepEqual(scan(events, 14), { file: 'bin.000002', pos: 500 }, 'the COMMIT at 14 belongs to the transaction begun at 13');
});
