import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DmqError } from '../../src/shared/errors.js';
import { describeConnectError, isUnreachable } from '../../src/shared/sql/connect.js';
import { ALREADY_DONE, REJECTED, TRANSIENT, UNREACHABLE, isServerError, serverErrno } from '../../src/shared/sql/server-errors.js';

/** What mysql2 throws when the server answers with an error packet; `code` is undefined for numbers it cannot name. */
const serverError = (errno: number, code?: string) => Object.assign(new Error(`server error ${errno}`), { errno, code, sqlState: 'HY000' });
const nodeError = (code: string, errno: number) => Object.assign(new Error(code), { code, errno, syscall: 'read' });

test('the error number the server sent, and errors no server sent', () => {
  const cases: [string, unknown, number | undefined][] = [
    ['mysql2, a MySQL number', serverError(1062, 'ER_DUP_ENTRY'), 1062],
    ['mysql2, a TiDB number it cannot name', serverError(9007), 9007],
    ['zongji, a purged binlog', serverError(1236, 'ER_MASTER_FATAL_ERROR_READING_BINLOG'), 1236],
    ['Node, a reset connection', nodeError('ECONNRESET', -104), undefined],
    [
      'mysql2, a lost connection',
      Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }),
      undefined,
    ],
    ['mysql2, a connect timeout', Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT', errno: 'ETIMEDOUT' }), undefined],
    ['dmq', new DmqError('INTERNAL', 'x'), undefined],
    ['a thrown string', 'boom', undefined],
    ['null', null, undefined],
  ];
  for (const [name, err, expected] of cases) assert.equal(serverErrno(err), expected, name);
});

test('each server error number is in at most one of unreachable, transient and rejected', () => {
  const groups = { unreachable: UNREACHABLE, transient: TRANSIENT, rejected: REJECTED };
  const cases: [number, string, keyof typeof groups | undefined][] = [
    [1040, 'too many connections', 'unreachable'],
    [1053, 'server shutdown in progress', 'unreachable'],
    [1927, 'MariaDB: connection was killed', 'unreachable'],
    [2006, 'server has gone away', 'unreachable'],
    [2013, 'lost connection during query', 'unreachable'],
    [1205, 'lock wait timeout', 'transient'],
    [1213, 'deadlock', 'transient'],
    [8002, 'TiDB: SELECT FOR UPDATE write conflict', 'transient'],
    [8005, 'TiDB: write conflict in TiDB', 'transient'],
    [8022, 'TiDB: commit failed and rolled back, retryable', 'transient'],
    [8027, 'TiDB: info schema expired', 'transient'],
    [8028, 'TiDB: info schema changed', 'transient'],
    [9001, 'TiDB: PD server timeout', 'transient'],
    [9002, 'TiDB: TiKV server timeout', 'transient'],
    [9003, 'TiDB: TiKV server busy', 'transient'],
    [9004, 'TiDB: resolve lock timeout', 'transient'],
    [9005, 'TiDB: region unavailable', 'transient'],
    [9006, 'TiDB: GC too early', 'transient'],
    [9007, 'TiDB: write conflict in TiKV', 'transient'],
    [1062, 'duplicate entry', 'rejected'],
    [1146, 'no such table', 'rejected'],
    [1054, 'unknown column', 'rejected'],
    [1064, 'syntax error', 'rejected'],
    [1452, 'no referenced row', 'rejected'],
    [1451, 'row is referenced', 'rejected'],
    [1406, 'data too long', 'rejected'],
    [1136, 'column count does not match', 'rejected'],
    [1366, 'incorrect value for a column', 'rejected'],
    [8004, 'TiDB: transaction too large', 'rejected'],
    [8025, 'TiDB: entry too large', 'rejected'],
    [1105, 'unknown error: TiDB sends it for hiccups and refusals alike', undefined],
    [1236, 'binlog purged: the reader decides', undefined],
    [1045, 'access denied', undefined],
  ];
  for (const [errno, name, expected] of cases) {
    const member = Object.entries(groups)
      .filter(([, numbers]) => isServerError(serverError(errno), numbers))
      .map(([group]) => group);
    assert.deepEqual(member, expected === undefined ? [] : [expected], `${errno} ${name}`);
  }
});

test('what a DDL that already ran reports when it runs again', () => {
  const cases: [number, string, boolean][] = [
    [1060, 'duplicate column', true],
    [1061, 'duplicate key name', true],
    [1091, 'cannot drop a column or key that is not there', true],
    [1050, 'table exists', true],
    [1051, 'unknown table', true],
    [1007, 'database exists', true],
    [1008, 'database does not exist', true],
    [1146, 'no such table', true],
    [1054, 'unknown column', true],
    [1068, 'multiple primary keys', true],
    [1062, 'duplicate entry: rows, not the DDL', false],
    [1064, 'syntax error', false],
    [8200, 'TiDB: unsupported DDL', false],
  ];
  for (const [errno, name, expected] of cases) assert.equal(isServerError(serverError(errno), ALREADY_DONE), expected, `${errno} ${name}`);
});

test('an unreachable server: network and driver codes, and the server numbers for a lost connection', () => {
  const cases: [string, unknown, boolean][] = [
    ['connection refused', nodeError('ECONNREFUSED', -111), true],
    ['connection reset', nodeError('ECONNRESET', -104), true],
    ['host not found', nodeError('ENOTFOUND', -3008), true],
    ['mysql2 lost the connection', Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST' }), true],
    ['server shutting down', serverError(1053, 'ER_SERVER_SHUTDOWN'), true],
    ['too many connections', serverError(1040, 'ER_CON_COUNT_ERROR'), true],
    ['MariaDB killed the connection', serverError(1927), true],
    ['duplicate entry', serverError(1062, 'ER_DUP_ENTRY'), false],
    ['TiDB write conflict', serverError(9007), false],
    ['TiKV server timeout', serverError(9002), false],
    ['dmq', new DmqError('CONNECT_FAILED', 'x'), false],
    ['dmq wrapping a refused connection', new DmqError('DUMP_FAILED', 'x', { cause: nodeError('ECONNREFUSED', -111) }), true],
    ['dmq wrapping a duplicate entry', new DmqError('LOAD_FAILED', 'x', { cause: serverError(1062, 'ER_DUP_ENTRY') }), false],
  ];
  for (const [name, err, expected] of cases) assert.equal(isUnreachable(err), expected, name);
});

test('a failed login: refused by the server, or no server to refuse it', () => {
  const endpoint = { host: 'db', port: 3306, user: 'dmq', password: 'secret' };
  const cases: [string, unknown, string][] = [
    ['wrong password', serverError(1045, 'ER_ACCESS_DENIED_ERROR'), 'ACCESS_DENIED'],
    ['no right to the schema', serverError(1044, 'ER_DBACCESS_DENIED_ERROR'), 'ACCESS_DENIED'],
    ['too many connections', serverError(1040, 'ER_CON_COUNT_ERROR'), 'CONNECT_FAILED'],
    ['connection refused', nodeError('ECONNREFUSED', -111), 'CONNECT_FAILED'],
  ];
  for (const [name, err, expected] of cases)
    assert.equal(describeConnectError(err, endpoint, { label: 'target', role: 'target' }).code, expected, name);
});

test('a TLS failure names the endpoint and the security field to change', () => {
  const plain = { host: 'db', port: 3306, user: 'dmq', password: 'secret' };
  const withTls = { ...plain, security: { sslCa: 'CA', verifyHostname: true } };
  const tlsError = (code: string, message: string) => Object.assign(new Error(message), { code });
  const cases: [string, unknown, typeof plain, 'source' | 'target', RegExp, RegExp][] = [
    [
      'MySQL requires TLS',
      serverError(3159, 'ER_SECURE_TRANSPORT_REQUIRED'),
      plain,
      'source',
      /source "s1" at db:3306 accepts only TLS connections, and from\.security is not set/,
      /from\.security\.ssl-ca .* or from\.security\.ssl-required: true/,
    ],
    [
      'no TLS offered',
      tlsError('HANDSHAKE_NO_SSL_SUPPORT', 'x'),
      withTls,
      'target',
      /does not offer TLS, but target-database\.security asks for it/,
      /remove target-database\.security/,
    ],
    [
      'untrusted chain',
      tlsError('HANDSHAKE_SSL_ERROR', 'self-signed certificate in certificate chain'),
      withTls,
      'source',
      /TLS handshake failed: self-signed certificate in certificate chain/,
      /from\.security\.ssl-ca holds the CA/,
    ],
    [
      "Node's host name check",
      Object.assign(tlsError('HANDSHAKE_SSL_ERROR', "Hostname/IP does not match certificate's altnames"), { host: 'db' }),
      withTls,
      'target',
      /certificate is refused: Hostname/,
      /target-database\.security\.ssl-verify-hostname: false/,
    ],
  ];
  for (const [name, err, endpoint, role, message, workaround] of cases) {
    const described = describeConnectError(err, endpoint, { label: role === 'source' ? 'source "s1"' : 'target', role });
    assert.equal(described.code, 'TLS_FAILED', name);
    assert.match(described.message, message, name);
    assert.match(described.workaround ?? '', workaround, name);
  }
  const denied = (endpoint: typeof plain) =>
    describeConnectError(serverError(1045, 'ER_ACCESS_DENIED_ERROR'), endpoint, { label: 'source "s1"', role: 'source' }).workaround;
  assert.match(
    denied(plain) ?? '',
    /accepts only TLS connections .* set from\.security/,
    'MariaDB refuses a plain login to a TLS-only server so',
  );
  assert.doesNotMatch(denied(withTls) ?? '', /from\.security/, 'with TLS set, the hint would mislead');
});
