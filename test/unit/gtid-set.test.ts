import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatGtidSet, GtidSetSyntaxError, parseGtidSet } from '../../src/shared/binlog/gtid-set.js';
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
