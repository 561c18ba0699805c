import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { timeZoneProblem, utcTimestampIn } from '../../src/shared/sql/time-zone.js';

describe('task timezone', () => {
  test('offsets and IANA names DM accepts', () => {
    for (const zone of ['+00:00', '+04:00', '-12:59', '+14:00', '+5:30', 'UTC', 'Asia/Shanghai', 'Europe/Berlin']) {
      assert.equal(timeZoneProblem(zone), undefined, zone);
    }
  });

  test('refusals name the value, in DM words', () => {
    for (const zone of ['SYSTEM', 'Local', '+14:01', '-13:00', '+04:60', 'Mars/Olympus', '4 hours']) {
      assert.match(
        timeZoneProblem(zone) ?? '',
        new RegExp(`^invalid timezone string \\[code=20008\\]: ${JSON.stringify(zone).replace(/[+]/g, '\\+')}`),
        zone,
      );
    }
  });

  test('a binlog TIMESTAMP (UTC text) as wall-clock text in an offset zone', () => {
    assert.equal(utcTimestampIn('+04:00', '2024-12-31 22:30:00'), '2025-01-01 02:30:00');
    assert.equal(utcTimestampIn('-05:30', '2024-03-01 02:00:00.123456'), '2024-02-29 20:30:00.123456');
  });

  test('in a named zone, across daylight saving time', () => {
    assert.equal(utcTimestampIn('Europe/Berlin', '2024-01-15 12:00:00'), '2024-01-15 13:00:00');
    assert.equal(utcTimestampIn('Europe/Berlin', '2024-07-15 12:00:00.5'), '2024-07-15 14:00:00.5');
    assert.equal(utcTimestampIn('Asia/Shanghai', '1970-01-01 00:00:01'), '1970-01-01 08:00:01');
  });

  test('the zero timestamp has no instant and stays', () => {
    assert.equal(utcTimestampIn('+04:00', '0000-00-00 00:00:00'), '0000-00-00 00:00:00');
  });
});
