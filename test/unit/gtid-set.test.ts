import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addGtid,
  containsGtidSet,
  formatGtidSet,
  GtidSetSyntaxError,
  gtidInSet,
  parseGtidSet,
  subtractGtidSets,
} from '../../src/shared/binlog/gtid-set.js';
import { parseTaskYaml } from '../../src/shared/config/task.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '8e6d4e21-1c7a-11ef-9d3c-0242ac120002';

test('MySQL sets: ranges of one uuid merge, uuids sort, the case and newlines of SHOW MASTER STATUS do not matter', () => {
  const set = parseGtidSet(`${B.toUpperCase()}:7-9:1-3,\n${A}:10:1-5:6-8:12`);
  assert.equal(formatGtidSet(set), `${A}:1-8:10:12,${B}:1-3:7-9`);
  assert.equal(set.flavor, 'mysql');
  assert.equal(formatGtidSet(parseGtidSet(`${A}:1-3:4-6`)), `${A}:1-6`, 'touching ranges merge');
  assert.equal(formatGtidSet(parseGtidSet(`${A.replaceAll('-', '')}:5`)), `${A}:5`, 'a uuid without dashes');
});

test("MySQL 8.4's tagged transactions are kept apart from the uuid's untagged ones", () => {
  const set = parseGtidSet(`${A}:1-5:Batch_1:1-2:4,${A}:6`);
  assert.equal(formatGtidSet(set), `${A}:1-6:batch_1:1-2:4`);
});

test('MariaDB lists: one position per domain, sorted', () => {
  const set = parseGtidSet('1-2-50, 0-1-100');
  assert.equal(set.flavor, 'mariadb');
  assert.equal(formatGtidSet(set), '0-1-100,1-2-50');
  assert.equal(formatGtidSet(parseGtidSet('0-1-18446744073709551615')), '0-1-18446744073709551615', 'a sequence number of 64 bits');
});

test('an empty text is the empty set of the flavor asked for', () => {
  assert.equal(formatGtidSet(parseGtidSet('', 'mysql')), '');
  assert.equal(parseGtidSet(' \n', 'mariadb').flavor, 'mariadb');
});

test('a malformed set names the part at fault', () => {
  const cases: [string, RegExp][] = [
    [`${A}:5-3`, /"5-3".*low to high/],
    [`${A}:0`, /"0"/],
    [`${A}`, /names no transactions/],
    ['not-a-uuid:1-5', /"not-a-uuid:1-5" does not start with a server uuid/],
    [`${A}:1-5,`, /"" does not start/],
    [`${A}:1-5:-x`, /"-x".*neither a transaction range/],
    [`${A}:9223372036854775807`, /2\^63-2/],
    ['0-1-100,0-2-200', /domain 0 appears twice/],
    ['0-1', /"0-1" is not domain-server-sequence/],
    ['4294967296-1-1', /out of range/],
  ];
  for (const [text, message] of cases)
    assert.throws(
      () => parseGtidSet(text),
      (err: Error) => err instanceof GtidSetSyntaxError && message.test(err.message),
      text,
    );
  assert.throws(() => parseGtidSet('0-1-100', 'mysql'), GtidSetSyntaxError, 'a MariaDB list is not a MySQL set');
});

test("a task's meta.binlog-gtid that is not a GTID set is refused, naming the field", () => {
  const yaml = (gtid: string) => `name: t
task-mode: incremental
target-database: { host: 127.0.0.1, port: 4000, user: root, password: "" }
mysql-instances:
  - source-id: s1
    meta: { binlog-gtid: "${gtid}" }
    block-allow-list: b
block-allow-list:
  b: { do-dbs: [d] }
`;
  assert.throws(() => parseTaskYaml(yaml(`${A}:1-`)), /mysql-instances\[0\]\.meta\.binlog-gtid.*is not a GTID set: "1-"/s);
  assert.doesNotThrow(() => parseTaskYaml(yaml(`${A}:1-100`)));
  assert.doesNotThrow(() => parseTaskYaml(yaml('0-1-100')));
});

/** Both sets in the flavor the non-empty one tells. */
const pair = (a: string, b: string) => {
  const flavor = parseGtidSet(a || b).flavor;
  return [parseGtidSet(a, flavor), parseGtidSet(b, flavor)] as const;
};
const minus = (a: string, b: string) => formatGtidSet(subtractGtidSets(...pair(a, b)));
const holds = (a: string, b: string) => containsGtidSet(...pair(a, b));

test('MySQL subtraction cuts ranges apart, per uuid and per tag', () => {
  assert.equal(minus(`${A}:1-10,${B}:1-5`, `${A}:3-4:8`), `${A}:1-2:5-7:9-10,${B}:1-5`);
  assert.equal(minus(`${A}:1-10`, `${A}:1-10`), '');
  assert.equal(minus(`${A}:1-5:blue:1-3`, `${A}:1-5`), `${A}:blue:1-3`, 'a tag is a stream of its own');
  assert.equal(minus(`${A}:1-5:blue:1-3`, `${A}:blue:2`), `${A}:1-5:blue:1:3`);
  assert.equal(minus(`${A}:5-6`, `${B}:1-100`), `${A}:5-6`);
  assert.equal(minus('', `${A}:1`), '');
});

test('MySQL containment: every transaction of the other set, holes count', () => {
  assert.equal(holds(`${A}:1-10,${B}:1-3`, `${A}:2-9`), true);
  assert.equal(holds(`${A}:1-4:6-10`, `${A}:1-10`), false, 'a hole');
  assert.equal(holds(`${A}:1-10`, `${A}:1-10:t1:1`), false, 'a tagged transaction');
  assert.equal(holds(`${A}:1-10`, ''), true);
});

test('MariaDB positions: subtraction keeps the domains that stand further; containment compares each domain', () => {
  assert.equal(minus('0-1-100,1-2-50', '0-1-100,1-2-40'), '1-2-50');
  assert.equal(minus('0-1-100,1-2-50', '0-3-120'), '1-2-50', 'a later sequence of the domain from another server holds it');
  assert.equal(minus('0-1-100', ''), '0-1-100');
  assert.equal(holds('0-2-120,1-2-50', '0-1-100'), true);
  assert.equal(holds('0-1-100', '0-1-100,1-1-1'), false, 'a domain it lacks');
  assert.equal(holds('0-1-99', '0-1-100'), false);
});

test('adding one transaction, and where a transaction stands in a set', () => {
  assert.equal(formatGtidSet(addGtid(parseGtidSet(`${A}:1-4`), `${A}:5`)), `${A}:1-5`);
  assert.equal(formatGtidSet(addGtid(parseGtidSet('', 'mysql'), `${A}:tag_1:7`)), `${A}:tag_1:7`);
  assert.equal(formatGtidSet(addGtid(parseGtidSet('0-1-10,1-1-3'), '0-2-11')), '0-2-11,1-1-3');
  const mysql = parseGtidSet(`${A}:1-5:7`);
  assert.deepEqual(
    [`${A}:3`, `${A}:7`, `${A}:6`, `${B}:1`].map((g) => gtidInSet(mysql, g)),
    ['inside', 'last', 'absent', 'absent'],
  );
  const mariadb = parseGtidSet('0-1-10');
  assert.deepEqual(
    ['0-1-9', '0-2-10', '0-1-11', '1-1-1'].map((g) => gtidInSet(mariadb, g)),
    ['inside', 'last', 'absent', 'absent'],
  );
  assert.throws(() => gtidInSet(mariadb, `${A}:1`), /cannot be compared/);
  assert.throws(() => addGtid(mysql, `${A}:x:`), /not one transaction's GTID/);
});
