import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAuroraRelease, retentionFinding, type RetentionFacts } from '../../src/processors/precheck/retention.js';

const GiB = 2 ** 30;
const aurora3 = parseAuroraRelease('3.04.0')!;

test('Aurora releases, as aurora_version() or the engine version gives them, and the MySQL each matches', () => {
  assert.deepEqual(parseAuroraRelease('3.04.0'), { text: '3.04.0', major: 3, minor: 4, patch: 0, mysql: '8.0' });
  assert.deepEqual(parseAuroraRelease('8.0.mysql_aurora.3.05.2'), { text: '3.05.2', major: 3, minor: 5, patch: 2, mysql: '8.0' });
  assert.equal(parseAuroraRelease('2.11.2')?.mysql, '5.7');
  assert.equal(parseAuroraRelease('1.22.5')?.mysql, '5.6');
  assert.equal(parseAuroraRelease('not aurora'), undefined);
});

test('Aurora without binlog retention hours: a warning with the CALL to run and the hours the copy takes', () => {
  const finding = retentionFinding({ aurora: aurora3, rds: { hours: null } }, 360 * GiB);
  assert.equal(finding.errors.length, 1);
  assert.equal(finding.errors[0]!.severity, 'warn');
  assert.match(
    finding.errors[0]!.shortErr,
    /^binlog retention hours is not set \(NULL\): Aurora 3\.04\.0 purges each binlog as soon as no replica holds it, and the copy of 360\.0 GiB is expected to take about 10 hours, .* dmq needs 35 hours of binlog$/,
  );
  assert.match(finding.instruction ?? '', /^CALL mysql\.rds_set_configuration\('binlog retention hours', 35\);/);
});

test('retention hours: enough passes, too few warns, beyond the most the server keeps says so', () => {
  assert.deepEqual(retentionFinding({ aurora: aurora3, rds: { hours: 48 } }, 10 * GiB), {
    errors: [],
    extra: 'binlog retention hours is 48',
  });
  const short = retentionFinding({ rds: { hours: 24 } }, 10 * GiB);
  assert.match(short.errors[0]!.shortErr, /^binlog retention hours is 24: this RDS server purges binlogs older than that/);
  assert.match(short.instruction ?? '', /'binlog retention hours', 25\)/);
  const huge = retentionFinding({ aurora: parseAuroraRelease('2.11.2')!, rds: { hours: 24 } }, 20_000 * GiB);
  assert.match(huge.instruction ?? '', /'binlog retention hours', 168\); \(168 is the most Aurora 2\.11\.2 keeps/);
  const incremental = retentionFinding({ rds: { hours: 12 } }, 0);
  assert.match(incremental.errors[0]!.shortErr, /a paused task needs a day of binlog to resume, so dmq needs 24 hours$/);
});

test('Aurora whose configuration cannot be read: a warning saying why', () => {
  const finding = retentionFinding({ aurora: aurora3, rds: { unreadable: 'execute command denied' } }, 0);
  assert.match(finding.errors[0]!.shortErr, /could not read binlog retention hours \(execute command denied\)/);
  assert.match(finding.instruction ?? '', /rds_set_configuration\('binlog retention hours', 24\)/);
});

test('other servers: expire_logs_days and binlog_expire_logs_seconds, the seconds first, 0 and 0 never expire', () => {
  const cases: [RetentionFacts, 'pass' | RegExp][] = [
    [{ expireLogsDays: 0, binlogExpireLogsSeconds: 0 }, 'pass'],
    [{ expireLogsDays: 0 }, 'pass'],
    [{ expireLogsDays: 7 }, 'pass'],
    [{ expireLogsDays: 30, binlogExpireLogsSeconds: 3600 }, /SET GLOBAL binlog_expire_logs_seconds = 90000/],
    [{ expireLogsDays: 1 }, /SET GLOBAL expire_logs_days = 2,/],
    [{ expireLogsDays: 0, binlogExpireLogsSeconds: 2592000 }, 'pass'],
  ];
  for (const [facts, expected] of cases) {
    const finding = retentionFinding(facts, 1 * GiB);
    if (expected === 'pass') assert.deepEqual(finding.errors, [], JSON.stringify(facts));
    else {
      assert.equal(finding.errors[0]?.severity, 'warn', JSON.stringify(facts));
      assert.match(finding.instruction ?? '', expected);
    }
  }
});
