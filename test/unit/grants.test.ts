import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { hasPrivilege, parseGrantLine, parseGrants, parseRoleList } from '../../src/processors/precheck/grants.js';

const auroraLines = (await readFile(new URL('../../examples/aurora-grants.txt', import.meta.url), 'utf8'))
  .split('\n')
  .filter((line) => line.trim() !== '');

function single(line: string) {
  const parsed = parseGrants([line]);
  assert.deepEqual(parsed.unparsed, [], `unparsed: ${line}`);
  assert.equal(parsed.grants.length, 1, line);
  return parsed.grants[0]!;
}

describe('Aurora SHOW GRANTS (examples/aurora-grants.txt)', () => {
  const cases: { has: string[]; lacks: string[]; schema: string; table: string; withGrantOption: boolean }[] = [
    {
      has: ['SELECT', 'RELOAD', 'REPLICATION SLAVE', 'REPLICATION CLIENT', 'LOAD FROM S3', 'SELECT INTO S3', 'SHOW DATABASES'],
      lacks: ['INVOKE LAMBDA', 'SUPER'],
      schema: '*',
      table: '*',
      withGrantOption: true,
    },
    {
      has: ['SELECT', 'RELOAD', 'REPLICATION SLAVE', 'REPLICATION CLIENT', 'INVOKE LAMBDA', 'INVOKE SAGEMAKER', 'INVOKE COMPREHEND'],
      lacks: ['INSERT', 'LOAD FROM S3'],
      schema: '*',
      table: '*',
      withGrantOption: false,
    },
    { has: ['SELECT'], lacks: ['INSERT', 'RELOAD'], schema: 'test_db', table: '*', withGrantOption: false },
  ];

  test('the file has one line per case', () => assert.equal(auroraLines.length, cases.length));

  cases.forEach((c, i) => {
    test(`line ${i + 1}`, () => {
      const grant = single(auroraLines[i]!);
      assert.deepEqual(grant.on, { schema: c.schema, table: c.table });
      assert.equal(grant.withGrantOption, c.withGrantOption);
      for (const p of c.has) assert.ok(grant.privileges.has(p), `has ${p}`);
      for (const p of c.lacks) assert.ok(!grant.privileges.has(p), `lacks ${p}`);
    });
  });

  test('the dm user can dump and replicate without understanding the Aurora-only privileges', () => {
    const parsed = parseGrants([auroraLines[1]!]);
    assert.ok(hasPrivilege(parsed, 'select', 'test_db', 'test_table'));
    assert.ok(hasPrivilege(parsed, 'REPLICATION SLAVE', '*', '*'));
    assert.ok(hasPrivilege(parsed, 'REPLICATION CLIENT', '*', '*'));
  });

  test("a db-level grant covers the schema's tables and nothing global", () => {
    const parsed = parseGrants([auroraLines[2]!]);
    assert.ok(hasPrivilege(parsed, 'SELECT', 'test_db', 'test_table'));
    assert.ok(hasPrivilege(parsed, 'SELECT', 'test_db', '*'));
    assert.ok(!hasPrivilege(parsed, 'SELECT', 'other_db', 'test_table'));
    assert.ok(!hasPrivilege(parsed, 'SELECT', '*', '*'));
  });
});

describe('privilege lines of MySQL 5.7/8.0 and MariaDB', () => {
  const cases: {
    line: string;
    privileges: string[];
    on: [string, string];
    withGrantOption?: boolean;
    columns?: Record<string, string[]>;
    routine?: string;
  }[] = [
    {
      line: "GRANT USAGE ON *.* TO 'u'@'%' IDENTIFIED BY PASSWORD '*7B9EBEED26AA52ED10C0F549FA863F13C39E0209'",
      privileges: ['USAGE'],
      on: ['*', '*'],
    },
    {
      line: 'GRANT BACKUP_ADMIN,BINLOG_ADMIN,CONNECTION_ADMIN,REPLICATION_SLAVE_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `root`@`localhost` WITH GRANT OPTION',
      privileges: ['BACKUP_ADMIN', 'BINLOG_ADMIN', 'CONNECTION_ADMIN', 'REPLICATION_SLAVE_ADMIN', 'SYSTEM_VARIABLES_ADMIN'],
      on: ['*', '*'],
      withGrantOption: true,
    },
    { line: 'GRANT ALL PRIVILEGES ON `app`.* TO `u`@`%`', privileges: ['ALL PRIVILEGES'], on: ['app', '*'] },
    { line: 'GRANT ALL ON app.* TO u@localhost', privileges: ['ALL PRIVILEGES'], on: ['app', '*'] },
    {
      line: 'GRANT SELECT (`a`), INSERT (`a`, `b c`), UPDATE ON `d1`.`t` TO `u2`@`%`',
      privileges: ['UPDATE'],
      on: ['d1', 't'],
      columns: { SELECT: ['a'], INSERT: ['a', 'b c'] },
    },
    { line: "GRANT SELECT ON `we``ird`.`ta.ble` TO 'o''brien'@'%'", privileges: ['SELECT'], on: ['we`ird', 'ta.ble'] },
    { line: "GRANT SELECT ON `d`.* TO 'it\\'s'@'%'", privileges: ['SELECT'], on: ['d', '*'] },
    { line: 'GRANT SELECT ON TABLE `d`.`t` TO `u`@`%`', privileges: ['SELECT'], on: ['d', 't'] },
    { line: 'GRANT EXECUTE ON PROCEDURE `d1`.`p` TO `u2`@`%`', privileges: ['EXECUTE'], on: ['d1', 'p'], routine: 'PROCEDURE' },
    { line: 'GRANT SELECT ON `test\\_%`.* TO PUBLIC', privileges: ['SELECT'], on: ['test\\_%', '*'] },
    {
      line: "GRANT REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR ON *.* TO `u`@`%` IDENTIFIED VIA ed25519 USING PASSWORD('x') OR unix_socket",
      privileges: ['REPLICATION SLAVE', 'BINLOG MONITOR', 'SLAVE MONITOR'],
      on: ['*', '*'],
    },
    {
      line: "GRANT SELECT ON *.* TO 'u'@'%' REQUIRE SSL WITH GRANT OPTION MAX_QUERIES_PER_HOUR 10",
      privileges: ['SELECT'],
      on: ['*', '*'],
      withGrantOption: true,
    },
    { line: 'grant select on table.* to u', privileges: ['SELECT'], on: ['table', '*'] },
  ];

  for (const c of cases) {
    test(c.line, () => {
      const grant = single(c.line);
      assert.deepEqual([...grant.privileges].sort(), [...c.privileges].sort());
      assert.deepEqual(grant.on, { schema: c.on[0], table: c.on[1] });
      assert.equal(grant.withGrantOption, c.withGrantOption ?? false);
      assert.equal(grant.routine, c.routine);
      const columns = grant.columns && Object.fromEntries([...grant.columns].map(([p, cols]) => [p, [...cols]]));
      assert.deepEqual(columns, c.columns);
    });
  }
});

describe('lines that grant no table privilege', () => {
  const roleCases: { line: string; roles: { role: string; host?: string; withAdminOption: boolean }[] }[] = [
    {
      line: 'GRANT `r1`@`%`,`r2`@`localhost` TO `u`@`%`',
      roles: [
        { role: 'r1', host: '%', withAdminOption: false },
        { role: 'r2', host: 'localhost', withAdminOption: false },
      ],
    },
    { line: 'GRANT `app_read`@`%` TO `u`@`%` WITH ADMIN OPTION', roles: [{ role: 'app_read', host: '%', withAdminOption: true }] },
    { line: 'GRANT `r1` TO `u1`@`%`', roles: [{ role: 'r1', withAdminOption: false }] },
    { line: 'GRANT r TO u', roles: [{ role: 'r', withAdminOption: false }] },
  ];
  for (const c of roleCases) {
    test(`role grant: ${c.line}`, () => {
      const parsed = parseGrants([c.line]);
      assert.deepEqual(parsed.roles, c.roles);
      assert.deepEqual(parsed.grants, []);
      assert.deepEqual(parsed.unparsed, []);
    });
  }

  for (const line of [
    "GRANT PROXY ON ''@'' TO 'root'@'localhost' WITH GRANT OPTION",
    'GRANT PROXY ON ``@`%` TO `root`@`localhost` WITH GRANT OPTION',
    'SET DEFAULT ROLE `r1` FOR `u1`@`%`',
  ]) {
    test(`understood and ignored: ${line}`, () => assert.deepEqual(parseGrantLine(line), { kind: 'ignored' }));
  }

  const unparsable = [
    'Grants for u@%',
    'GRANT SELECT ON `d`.* ',
    'GRANT SELECT ON `d`.`t`.`x` TO u',
    'GRANT SELECT ON * TO u',
    'GRANT SELECT (a ON d.t TO u',
    '',
    'REVOKE `r1` FROM u',
  ];
  for (const line of unparsable) {
    test(`unparsed, not thrown: ${JSON.stringify(line)}`, () => {
      const parsed = parseGrants(['GRANT SELECT ON *.* TO u', line]);
      assert.deepEqual(parsed.unparsed, [line]);
      assert.equal(parsed.grants.length, 1);
    });
  }
});

describe('hasPrivilege', () => {
  const lines = [
    'GRANT USAGE ON *.* TO `u`@`%`',
    'GRANT SELECT ON `shop\\_%`.* TO `u`@`%`',
    'GRANT ALL PRIVILEGES ON `app`.* TO `u`@`%`',
    'GRANT INSERT ON `logs`.`events` TO `u`@`%`',
    'GRANT SELECT (`a`) ON `logs`.`audit` TO `u`@`%`',
    'GRANT EXECUTE, SELECT ON PROCEDURE `logs`.`p` TO `u`@`%`',
    'GRANT SELECT ON `a_c`.* TO `u`@`%`',
  ];
  const parsed = parseGrants(lines);
  const cases: [string, string, string, boolean][] = [
    ['SELECT', 'shop_eu', 'orders', true],
    ['SELECT', 'shop_', 'orders', true],
    ['SELECT', 'shopXeu', 'orders', false],
    ['SELECT', 'shop', 'orders', false],
    ['SELECT', 'abc', 't', true],
    ['SELECT', 'a_c', 't', true],
    ['SELECT', 'abbc', 't', false],
    ['DROP', 'app', 'anything', true],
    ['CREATE', 'app', '*', true],
    ['REPLICATION SLAVE', '*', '*', false],
    ['SELECT', 'app', 't', true],
    ['INSERT', 'logs', 'events', true],
    ['INSERT', 'logs', 'Events', false],
    ['INSERT', 'logs', '*', false],
    ['SELECT', 'logs', 'events', false],
    ['SELECT', 'logs', 'audit', false],
    ['SELECT', 'logs', 'p', false],
    ['USAGE', '*', '*', true],
  ];
  for (const [privilege, schema, table, expected] of cases) {
    test(`${privilege} on ${schema}.${table} is ${expected}`, () => assert.equal(hasPrivilege(parsed, privilege, schema, table), expected));
  }

  test('MariaDB 10.5 shows REPLICATION CLIENT as BINLOG MONITOR', () => {
    const p = parseGrants(['GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `dm`@`%`']);
    assert.ok(hasPrivilege(p, 'REPLICATION CLIENT', '*', '*'));
    assert.ok(hasPrivilege(p, 'REPLICATION SLAVE', '*', '*'));
  });

  test('MySQL 8 partial revokes carve a schema out of a global grant', () => {
    const p = parseGrants([
      'GRANT SELECT, INSERT ON *.* TO `u`@`%`',
      'REVOKE INSERT ON `mysql`.* FROM `u`@`%`',
      'GRANT INSERT ON `mysql`.`t` TO `u`@`%`',
    ]);
    assert.equal(p.revokes.length, 1);
    assert.ok(hasPrivilege(p, 'INSERT', 'app', 't'));
    assert.ok(!hasPrivilege(p, 'INSERT', 'mysql', 'user'));
    assert.ok(hasPrivilege(p, 'INSERT', 'mysql', 't'));
    assert.ok(hasPrivilege(p, 'SELECT', 'mysql', 'user'));
  });

  test('ALL PRIVILEGES on *.* covers privileges nobody listed', () => {
    const p = parseGrants(['GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION']);
    assert.ok(hasPrivilege(p, 'LOAD FROM S3', 'any', 'table'));
    assert.ok(hasPrivilege(p, 'RELOAD', '*', '*'));
  });
});

test('CURRENT_ROLE() text', () => {
  assert.deepEqual(parseRoleList('NONE'), []);
  assert.deepEqual(parseRoleList('`r1`@`%`,`r 2`@`localhost`'), [
    { role: 'r1', host: '%', withAdminOption: false },
    { role: 'r 2', host: 'localhost', withAdminOption: false },
  ]);
});
