import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import {
  ACCEPTED_IGNORED_SOURCE_KEYS,
  parseSourceObject,
  parseSourceYaml,
  serializeSourceForStore,
  sourceFromStore,
} from '../../src/shared/config/source.js';
import type { SourceConfig } from '../../src/shared/config/types.js';
import { DmqError } from '../../src/shared/errors.js';
import { createTestPki, type Issued, type TestPki } from '../support/tls-certs.js';

const example = (file: string) => readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8');

function configError(fn: () => unknown): DmqError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DmqError, `expected a DmqError, got ${String(err)}`);
    assert.equal(err.code, 'CONFIG_INVALID', err.message);
    return err;
  }
  assert.fail('expected a config error');
}

describe('source.yaml', () => {
  const examples: [string, SourceConfig][] = [
    [
      'source-01.yaml',
      {
        sourceId: 'mysql-replica-01',
        enableGtid: false,
        enableRelay: false,
        from: { host: '127.0.0.1', port: 3307, user: 'root', password: '123456' },
        notices: [],
      },
    ],
    [
      'source-02.yaml',
      {
        sourceId: 'mysql-replica-02',
        enableGtid: false,
        enableRelay: false,
        from: { host: '127.0.0.1', port: 3308, user: 'root', password: '123456' },
        notices: [],
      },
    ],
  ];
  for (const [file, expected] of examples) {
    test(`examples/${file} parses, password decrypted`, () => assert.deepEqual(parseSourceYaml(example(file)), expected));
  }

  test('all DM fields, defaults and accepted-and-ignored keys', () => {
    const yaml = [
      'source-id: aurora-1',
      'server-id: 101',
      'flavor: MariaDB',
      'enable-gtid: true',
      'enable-relay: true',
      'relay-dir: ./relay_log',
      'relay-binlog-name: mysql-bin.000001',
      'case-sensitive: false',
      'purge: {interval: 3600, expires: 0, remain-space: 15}',
      'checker: {check-enable: true}',
      'filters: []',
      'from:',
      '  host: db.example.com',
      '  user: dm',
      '  password: plain-pw',
      '  max-allowed-packet: 67108864',
      // dmq's source sessions are its own (sql_mode '' among them): even this setting reaches no connection.
      "  session: { sql_mode: 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES' }",
      '',
    ].join('\n');
    assert.deepEqual(parseSourceYaml(yaml), {
      sourceId: 'aurora-1',
      serverId: 101,
      flavor: 'mariadb',
      enableGtid: true,
      enableRelay: true,
      from: { host: 'db.example.com', port: 3306, user: 'dm', password: 'plain-pw' },
      // Set to something, so reported; `case-sensitive: false` and `filters: []` ask for nothing.
      notices: ['relay-dir', 'relay-binlog-name', 'purge', 'checker'].map((field) => ({
        field,
        note: `accepted, not acted on: ${ACCEPTED_IGNORED_SOURCE_KEYS.find((k) => k.key === field)!.reason}`,
      })),
    });
  });

  test('source-level binlog event filters and case-sensitive', () => {
    const yaml = [
      'source-id: mysql-replica-01',
      'case-sensitive: true',
      'filters:',
      '  - schema-pattern: "shop"',
      '    table-pattern: "orders_*"',
      '    events: ["DROP TABLE", "delete"]',
      '    action: ignore',
      '  - schema-pattern: "~^log"',
      '    sql-pattern: ["^TRUNCATE"]',
      '    action: Error',
      'from: { host: h, user: u }',
    ].join('\n');
    const source = parseSourceYaml(yaml);
    assert.equal(source.caseSensitive, true);
    assert.deepEqual(source.filters, [
      {
        name: 'source mysql-replica-01 filters[0]',
        schemaPattern: 'shop',
        tablePattern: 'orders_*',
        events: ['drop table', 'delete'],
        sqlPattern: [],
        action: 'Ignore',
      },
      { name: 'source mysql-replica-01 filters[1]', schemaPattern: '~^log', events: [], sqlPattern: ['^TRUNCATE'], action: 'Error' },
    ]);
    assert.deepEqual(sourceFromStore(serializeSourceForStore(source)).filters, source.filters);
  });

  test('a source-level filter naming an unknown event is dropped with a notice, as DM drops it', () => {
    const source = parseSourceObject({
      'source-id': 's1',
      from: { host: 'h', user: 'u' },
      filters: [
        { 'schema-pattern': '*', events: ['drop tabel'], action: 'Ignore' },
        { 'schema-pattern': 'a', events: ['delete'], action: 'Ignore' },
      ],
    });
    assert.deepEqual(
      source.filters?.map((f) => f.name),
      ['source s1 filters[1]'],
    );
    assert.equal(source.notices.length, 1);
    assert.match(source.notices[0]!.field, /^filters\[0\]\.events\[0\]$/);
    assert.match(source.notices[0]!.note, /unknown event "drop tabel": DM ignores the whole rule/);
  });

  test("DM's zero values mean unset: flavor '' and server-id 0, as in DM's own source files", () => {
    const source = parseSourceYaml(
      ['source-id: s1', "flavor: ''", 'server-id: 0', 'auto-fix-gtid: false', 'from:', '  host: h', '  user: u', ''].join('\n'),
    );
    assert.equal(source.flavor, undefined);
    assert.equal(source.serverId, undefined);
    assert.deepEqual(source.notices, []);
  });

  test('the ignored-key list documents every level', () => {
    const keys = ACCEPTED_IGNORED_SOURCE_KEYS.map((k) => k.key);
    for (const key of ['relay-dir', 'relay-binlog-name', 'relay-binlog-gtid', 'purge', 'checker', '(OpenAPI) purge']) {
      assert.ok(keys.includes(key), key);
    }
  });

  const errors: { name: string; input: unknown; expect: string[] }[] = [
    { name: 'source-id missing', input: { from: { host: 'h', user: 'u' } }, expect: ['source-id: required'] },
    { name: 'from missing', input: { 'source-id': 's1' }, expect: ['from: required'] },
    {
      name: 'source-id dmq cannot use, and why',
      input: { 'source-id': 'mysql replica', from: { host: 'h', user: 'u' } },
      expect: ['source-id: "mysql replica" must be 1 to 64 letters, digits, "_" or "-" (dmq uses source ids in queue names)'],
    },
    {
      name: 'bad flavor',
      input: { 'source-id': 's1', flavor: 'oracle', from: { host: 'h', user: 'u' } },
      expect: ['flavor: expected "mysql", "mariadb" or "" (found out from the server), got "oracle"'],
    },
    {
      name: 'bad port',
      input: { 'source-id': 's1', from: { host: 'h', user: 'u', port: 70000 } },
      expect: ['from.port: expected a port number (1-65535), got 70000'],
    },
    {
      name: 'unknown nested key',
      input: { 'source-id': 's1', from: { host: 'h', user: 'u', pass: 'x' } },
      expect: ['unknown field "pass" at from; allowed: host, port, user, password, security'],
    },
    {
      name: 'a source-level filter with an unknown action',
      input: {
        'source-id': 's1',
        from: { host: 'h', user: 'u' },
        filters: [{ 'schema-pattern': '*', events: ['drop table'], action: 'Skip' }],
      },
      expect: ['filters[0].action: expected one of Do, Ignore, Error, got "Skip"'],
    },
    {
      name: 'a source-level filter without schema-pattern',
      input: { 'source-id': 's1', from: { host: 'h', user: 'u' }, filters: [{ events: ['delete'], action: 'Ignore' }] },
      expect: ['filters[0].schema-pattern: required'],
    },
    { name: 'OpenAPI body with a missing field', input: { source_name: 's1', host: 'h' }, expect: ['user: required'] },
    {
      name: 'wrapped OpenAPI body, paths under source',
      input: { source: { source_name: 's1', host: 'h', user: 'u', port: 'x' } },
      expect: ['source.port: expected a port number'],
    },
  ];
  for (const c of errors) {
    test(`error: ${c.name}`, () => {
      const err = configError(() => parseSourceObject(c.input));
      for (const e of c.expect) assert.ok(err.message.includes(e), `expected ${JSON.stringify(e)} in:\n${err.message}`);
    });
  }

  test('multiple problems are listed together', () => {
    const err = configError(() => parseSourceYaml('source-id: s1\nflavor: x\nfrom: {host: h, port: 0}\n'));
    assert.match(err.message, /flavor: expected/);
    assert.match(err.message, /from\.port: expected/);
    assert.match(err.message, /from\.user: required/);
  });
});

describe('DM OpenAPI source bodies', () => {
  let pki: TestPki;
  let client: Issued;
  before(async () => {
    pki = await createTestPki();
    client = await pki.client('dmq');
  });
  const openApi = () => ({
    source_name: 'mysql-01',
    host: '127.0.0.1',
    port: 3306,
    user: 'root',
    password: 'VjX8cEeTX+qcvZ3bPaO4h0C80pe/1aU=',
    enable_gtid: true,
    enable: true,
    security: { ssl_ca_content: pki.ca, ssl_cert_content: client.cert, ssl_key_content: client.key, cert_allowed_cn: ['x'] },
    purge: { interval: 3600, expires: 0, remain_space: 15 },
    relay_config: { enable_relay: true, relay_binlog_name: 'mysql-bin.000002', relay_binlog_gtid: '', relay_dir: './relay_log' },
  });
  const expected = (): SourceConfig => ({
    sourceId: 'mysql-01',
    enableGtid: true,
    enableRelay: true,
    from: {
      host: '127.0.0.1',
      port: 3306,
      user: 'root',
      password: '123456',
      security: { sslCa: pki.ca, sslCert: client.cert, sslKey: client.key, certAllowedCn: ['x'], verifyHostname: true },
    },
    notices: ['enable', 'purge'].map((field) => ({
      field,
      note: `accepted, not acted on: ${ACCEPTED_IGNORED_SOURCE_KEYS.find((k) => k.key === `(OpenAPI) ${field}`)!.reason}`,
    })),
  });

  test('a bare OpenAPI source maps to the same config', () => assert.deepEqual(parseSourceObject(openApi()), expected()));
  test('a { source, worker_name } request body', () =>
    assert.deepEqual(parseSourceObject({ source: openApi(), worker_name: 'worker-1' }), expected()));
  test('null security (as JSON clients send) is no TLS', () => {
    const parsed = parseSourceObject({ source_name: 's2', host: 'h', user: 'u', security: null });
    assert.equal(parsed.from.security, undefined);
    assert.equal(parsed.from.port, 3306);
    assert.equal(parsed.from.password, '');
  });
  test('OpenAPI PEM contents are checked like the YAML fields, without echoing them', () => {
    const err = configError(() =>
      parseSourceObject({
        source_name: 's2',
        host: 'h',
        user: 'u',
        security: { ssl_ca_content: client.key, ssl_key_content: 'secret junk' },
      }),
    );
    assert.match(err.message, /security\.ssl_ca_content: holds no PEM certificate/);
    assert.match(err.message, /security\.ssl_key_content: holds no PEM private key/);
    assert.ok(!err.message.includes('PRIVATE KEY-----') && !err.message.includes('secret junk'), err.message);
  });

  test('the stored copy has the password and the TLS key encrypted, and restores them', () => {
    const source = parseSourceObject({ ...openApi(), password: 'pw-123' });
    const text = JSON.stringify(serializeSourceForStore(source));
    assert.ok(!text.includes('pw-123'));
    assert.ok(!text.includes('PRIVATE KEY'));
    assert.ok(text.includes('BEGIN CERTIFICATE'), 'certificates are public and stay readable');
    assert.deepEqual(sourceFromStore(JSON.parse(text)), source);
  });
});
