import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { responseSchema } from '../../src/producers/http/api-spec.js';
import { startMariadb, type MariadbServer } from '../harness/mariadb.js';
import { removeOnExit } from '../harness/proc.js';
import type { Endpoint } from '../harness/servers.js';
import { getStack, resetDatabases } from '../harness/stack.js';
import { captureLoopback } from '../support/capture.js';
import { compareMerged } from '../support/compare.js';
import { runCli, startDmq, waitForCaughtUp, waitForStatus, type DmqServer, inSync } from '../support/dmq.js';
import { execSql } from '../support/fixtures.js';
import { everythingInRedis } from '../support/redis-dump.js';
import { createTestPki, type Issued, type TestPki } from '../support/tls-certs.js';
import { startWriter } from '../support/writer.js';

/**
 * A source and a target that accept only TLS (require_secure_transport=ON) and only clients
 * with a certificate (the dmq user is REQUIRE X509), with certificates made here by a CA of the
 * test's own. The servers are this file's own: the shared stack's cannot be restarted with TLS.
 */

const ROOT_PASSWORD = 'tls-root-pw';
const DMQ_USER = { user: 'dmq', password: 'dmq-user-pw' };
/** Random per run, so a capture cannot hold it by chance. */
const MARKER = `zebra-${randomBytes(8).toString('hex')}`;
const ROWS = 20_000;

interface TlsServer {
  server: MariadbServer;
  /** How the test itself connects: TLS, the CA trusted. */
  admin: Endpoint;
  certFile: string;
  keyFile: string;
}

let pki: TestPki;
let serverCert: Issued;
let client: Issued;
let dir: string;
let source: TlsServer;
let target: TlsServer;
let dmq: DmqServer;

async function startTlsMariadb(name: string, serverId: number, binlog: boolean): Promise<TlsServer> {
  // Each server reads its own copy, so one can be given another certificate (FLUSH SSL).
  const certFile = join(dir, `${name}-cert.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  await copyFile(serverCert.certFile, certFile);
  await copyFile(serverCert.keyFile, keyFile);
  const server = await startMariadb({
    dir: join(dir, name),
    serverId,
    binlog,
    rootPassword: ROOT_PASSWORD,
    extraArgs: [`--ssl-ca=${pki.caFile}`, `--ssl-cert=${certFile}`, `--ssl-key=${keyFile}`, '--require-secure-transport=ON'],
  });
  const admin = { host: 'localhost', port: server.port, user: 'root', password: ROOT_PASSWORD, ssl: { ca: pki.ca } } as Endpoint;
  await execSql(admin, [
    `CREATE USER ${DMQ_USER.user}@'%' IDENTIFIED BY '${DMQ_USER.password}' REQUIRE X509`,
    `GRANT ALL PRIVILEGES ON *.* TO ${DMQ_USER.user}@'%'`,
  ]);
  return { server, admin, certFile, keyFile };
}

before(async () => {
  await resetDatabases();
  pki = await createTestPki();
  serverCert = await pki.server('server', ['DNS:localhost']);
  client = await pki.client('dmq-client');
  dir = await mkdtemp(join(tmpdir(), 'dmq-tls-'));
  removeOnExit(dir);
  [source, target] = await Promise.all([startTlsMariadb('source', 21, true), startTlsMariadb('target', 23, false)]);
  dmq = await startDmq({ env: { DMQ_LOG_LEVEL: 'debug' } });
});

after(async () => {
  await dmq?.stop();
  await Promise.all([source?.server.stop(), target?.server.stop()]);
});

/** A `security` block as a DM user writes it: files on the user's machine. */
function securityLines(extra: string[] = []): string[] {
  return [
    '  security:',
    `    ssl-ca: ${pki.caFile}`,
    `    ssl-cert: ${client.certFile}`,
    `    ssl-key: ${client.keyFile}`,
    ...extra.map((l) => `    ${l}`),
  ];
}

async function writeConfig(name: string, lines: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

function sourceYaml(id: string, host: string, security: string[] | null): Promise<string> {
  return writeConfig(`${id}.yaml`, [
    `source-id: ${id}`,
    'from:',
    `  host: ${host}`,
    `  port: ${source.server.port}`,
    `  user: ${DMQ_USER.user}`,
    `  password: "${DMQ_USER.password}"`,
    ...(security ?? []),
  ]);
}

function taskYaml(name: string, mode: string, sourceIds: string[]): Promise<string> {
  return writeConfig(`${name}.yaml`, [
    `name: ${name}`,
    `task-mode: ${mode}`,
    'target-database:',
    '  host: localhost',
    `  port: ${target.server.port}`,
    `  user: ${DMQ_USER.user}`,
    `  password: "${DMQ_USER.password}"`,
    ...securityLines(),
    'mysql-instances:',
    ...sourceIds.flatMap((id) => [`  - source-id: ${id}`, '    block-allow-list: only']),
    'block-allow-list:',
    '  only: { do-dbs: [test_db] }',
  ]);
}

test('the capture sees a MySQL value sent in clear (the control that lets the TLS assertion fail)', { timeout: 60_000 }, async () => {
  const plain = (await getStack()).upstreams[0];
  const capture = await captureLoopback([plain.port]);
  await execSql(plain, [
    'CREATE DATABASE tls_control',
    'CREATE TABLE tls_control.t (v VARCHAR(64))',
    `INSERT INTO tls_control.t VALUES ('${MARKER}')`,
  ]);
  const bytes = await capture.stop();
  assert.ok(bytes.includes(MARKER), `tcpdump on port ${plain.port} captured ${bytes.length} bytes without the value sent in clear`);
});

test('all mode with writers over TLS to a source and a target that require it: every row arrives, no row value crosses the loopback in clear, no key material anywhere', {
  timeout: 300_000,
}, async () => {
  await execSql(source.admin, [
    'CREATE DATABASE test_db',
    'CREATE TABLE test_db.test_table (id INT PRIMARY KEY, k INT, c VARCHAR(200), b BLOB, KEY (k))',
    `INSERT INTO test_db.test_table SELECT seq * 2, seq % 1000, CONCAT('${MARKER}-', seq), NULL FROM test_db.seq_0_to_${ROWS - 1}`,
    'CREATE TABLE test_db.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(40))',
  ]);
  const capture = await captureLoopback([source.server.port, target.server.port]);
  const sourceFile = await sourceYaml('tls-source', 'localhost', securityLines());
  const created = await runCli(dmq.addr, ['operate-source', 'create', sourceFile]);
  assert.equal(created.code, 0, created.stdout);
  const started = await runCli(dmq.addr, ['start-task', await taskYaml('tls', 'all', ['tls-source'])]);
  assert.equal(started.code, 0, started.stdout);
  const writer = startWriter(source.admin, { parity: 0, seed: 41 });
  try {
    const syncing = await waitForStatus(dmq.addr, 'tls', inSync, 180_000);
    assert.equal(syncing.stage, 'Running', JSON.stringify(syncing, null, 2));
    await execSql(source.admin, [
      `INSERT INTO test_db.test_table (id, k, c) VALUES (1000001, 1, '${MARKER}-live')`,
      `UPDATE test_db.test_table SET c = '${MARKER}-updated' WHERE id = 2`,
    ]);
    await new Promise((r) => setTimeout(r, 3000));
  } finally {
    assert.ok((await writer.stop()) > 20, 'the writer ran');
  }
  const status = await waitForCaughtUp(dmq.addr, 'tls', [source.admin], 120_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  const captured = await capture.stop();

  for (const table of ['test_table', 'audit']) {
    const { expected, actual } = await compareMerged([{ server: source.admin, schema: 'test_db', table }], {
      server: target.admin,
      schema: 'test_db',
      table,
    });
    assert.equal(actual.length, expected.length, table);
    assert.deepEqual(actual, expected, table);
  }
  // Every copied row carried the value, so the capture must have seen at least that many bytes:
  // the traffic went through it, encrypted.
  assert.ok(captured.length > ROWS * MARKER.length, `the capture holds ${captured.length} bytes: too little to hold the copy`);
  assert.ok(!captured.includes(MARKER), 'a row value crossed the loopback in clear');

  await assertNoKeyMaterial();
  assert.equal((await runCli(dmq.addr, ['stop-task', 'tls'])).code, 0);
});

/** Every answer, the log, Redis and Bull Board, searched for the client's private key. */
async function assertNoKeyMaterial(): Promise<void> {
  const checked = await runCli(dmq.addr, ['check-task', await taskYaml('tls', 'all', ['tls-source'])]);
  assert.ok(Array.isArray(checked.json.checkResult), checked.stdout);
  const answers = [checked.stdout];
  for (const args of [['query-status', 'tls'], ['query-status'], ['operate-source', 'show']])
    answers.push((await runCli(dmq.addr, args)).stdout);
  const get = async (path: string) => (await fetch(`http://${dmq.addr}${path}`)).text();
  for (const path of [
    '/api/v1/sources',
    '/api/v1/sources/tls-source',
    '/api/v1/sources/tls-source/status',
    '/api/v1/tasks',
    '/api/v1/tasks/tls',
    '/api/v1/tasks/tls/status',
    '/api/v1/tasks/tls/status?more=true',
    '/api/v1/tasks/tls/shard-ddl-locks',
    '/metrics',
  ]) {
    answers.push(await get(path));
  }
  const queues = JSON.parse(await get('/dashboard/api/queues')) as { queues: { name: string }[] };
  assert.ok(queues.queues.length > 0, 'Bull Board lists queues');
  const board: string[] = [];
  for (const { name } of queues.queues) {
    for (const status of ['latest', 'completed', 'failed']) {
      board.push(await get(`/dashboard/api/queues?activeQueue=${encodeURIComponent(name)}&status=${status}&page=1&jobsPerPage=1000`));
    }
  }
  assert.ok(
    board.some((text) => text.includes('"purpose":"check"')),
    'Bull Board shows the check-task job, whose data carries the task',
  );
  const source = JSON.parse(await get('/api/v1/sources/tls-source')) as { from: { security: Record<string, unknown> } };
  const documented = responseSchema('get', '/api/v1/sources/:name', 200)!.safeParse(source);
  assert.ok(documented.success, `the answer matches the OpenAPI document: ${JSON.stringify(documented.error?.issues)}`);
  assert.equal(source.from.security.sslKey, '******');
  assert.equal(source.from.security.sslCert, client.cert, 'certificates are public and shown');

  const keyBody = client.key.split('\n')[1]!;
  const places: [string, string[]][] = [
    ['the API and CLI answers', answers],
    ['Bull Board', board],
    ['the log of dmq serve (debug level)', [dmq.output()]],
    ['Redis', await everythingInRedis((await getStack()).redis.url)],
  ];
  assert.ok(dmq.output().includes('tls-source'), 'the log did record the source');
  for (const [where, texts] of places) {
    for (const secret of ['PRIVATE KEY', keyBody]) assert.ok(!texts.some((t) => t.includes(secret)), `${where} must not show ${secret}`);
  }
}

/** The connectivity result of each source of a check-task run. */
async function connectivity(
  task: string,
  sourceIds: string[],
): Promise<Map<string, { state: string; errors: { shortErr: string }[]; instruction?: string }>> {
  const checked = await runCli(dmq.addr, ['check-task', await taskYaml(task, 'full', sourceIds)]);
  const results = (checked.json.checkResult ?? []) as {
    name: string;
    sourceId?: string;
    state: string;
    errors: { shortErr: string }[];
    instruction?: string;
  }[];
  return new Map(results.filter((r) => r.name === 'connectivity' && r.sourceId !== undefined).map((r) => [r.sourceId!, r]));
}

test('server certificates are checked: the address, the common name, the CA; TLS a server requires but the config lacks is named', {
  timeout: 120_000,
}, async () => {
  const register = async (id: string, host: string, security: string[] | null) => {
    const created = await runCli(dmq.addr, ['operate-source', 'create', await sourceYaml(id, host, security)]);
    assert.equal(created.code, 0, created.stdout);
  };
  // The certificate is for localhost only: an address it does not list is refused (mysql2 alone would compare "localhost").
  await register('by-ip', '127.0.0.1', securityLines());
  await register('by-ip-unverified', '127.0.0.1', securityLines(['ssl-verify-hostname: false']));
  await register('wrong-cn', 'localhost', securityLines(['cert-allowed-cn: [db-primary]']));
  await register('right-cn', 'localhost', securityLines(['cert-allowed-cn: [localhost]']));
  await register('no-tls', 'localhost', null);
  await register('no-ca', 'localhost', ['  security:', '    ssl-required: true']);
  const results = await connectivity('tls-checks', ['by-ip', 'by-ip-unverified', 'wrong-cn', 'right-cn', 'no-tls', 'no-ca']);

  const show = (id: string) => JSON.stringify(results.get(id));
  assert.equal(results.get('by-ip-unverified')?.state, 'success', show('by-ip-unverified'));
  assert.equal(results.get('right-cn')?.state, 'success', show('right-cn'));
  const failed = (id: string, message: RegExp, instruction: RegExp) => {
    const result = results.get(id);
    assert.equal(result?.state, 'fail', show(id));
    assert.match(result!.errors[0]!.shortErr, message, show(id));
    assert.match(result!.instruction ?? '', instruction, show(id));
  };
  failed('by-ip', /certificate is refused: .*IP: 127\.0\.0\.1 is not in the cert's list/, /from\.security\.ssl-verify-hostname: false/);
  failed('wrong-cn', /common name "localhost" is not in cert-allowed-cn \(db-primary\)/, /from\.security\.cert-allowed-cn/);
  failed('no-tls', /access denied/, /accepts only TLS connections .* set from\.security \(ssl-ca, or ssl-required: true\)/);
  failed('no-ca', /TLS handshake failed: self-signed certificate in certificate chain/, /from\.security\.ssl-ca/);

  // The source's server now presents a certificate for another host name.
  const elsewhere = await pki.server('elsewhere', ['DNS:elsewhere.invalid']);
  await copyFile(elsewhere.certFile, source.certFile);
  await copyFile(elsewhere.keyFile, source.keyFile);
  const admin = await mysql.createConnection({ socketPath: source.server.socket, user: 'root' });
  try {
    await admin.query('FLUSH SSL');
  } finally {
    await admin.end();
  }
  const moved = await connectivity('tls-moved', ['tls-source']);
  assert.equal(moved.get('tls-source')?.state, 'fail', JSON.stringify(moved.get('tls-source')));
  assert.match(
    moved.get('tls-source')!.errors[0]!.shortErr,
    /certificate is refused: .*Host: localhost\. is not in the cert's altnames: DNS:elsewhere\.invalid/,
  );
  assert.match(moved.get('tls-source')!.instruction ?? '', /connect with a host name the certificate is issued for/);
});

test("the API reads no file a config names; the CLI reads the user's and names what is wrong", { timeout: 60_000 }, async () => {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`http://${dmq.addr}${path}`, {
      method: 'POST',
      headers: { 'content-type': typeof body === 'string' ? 'application/yaml' : 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };
  const environment = Object.values(process.env).filter((v): v is string => v !== undefined && v.length > 8);
  for (const file of ['/etc/passwd', '/proc/self/environ']) {
    const asYaml = await post('/api/v1/sources', `source-id: sneaky\nfrom: {host: localhost, user: u, security: {ssl-key: ${file}}}\n`);
    const asJson = await post('/api/v1/tasks', {
      name: 'sneaky',
      'task-mode': 'full',
      'target-database': { host: 'localhost', user: 'u', security: { 'ssl-ca': file } },
      'mysql-instances': [{ 'source-id': 'tls-source' }],
    });
    for (const [answer, field] of [
      [asYaml, 'from.security.ssl-key'],
      [asJson, 'target-database.security.ssl-ca'],
    ] as const) {
      assert.equal(answer.status, 400, answer.text);
      assert.ok(answer.text.includes(`${field}: \\"${file}\\" is a path on the dmq server`), answer.text);
      assert.ok(!answer.text.includes('root:x:0'), 'no line of /etc/passwd');
      assert.ok(!environment.some((v) => answer.text.includes(v)), 'no value of the environment');
    }
  }
  const badPem = await post('/api/v1/sources', {
    'source-id': 'bad-pem',
    from: { host: 'h', user: 'u', security: { 'ssl-ca-bytes': 'not a certificate' } },
  });
  assert.equal(badPem.status, 400);
  assert.match(badPem.text, /from\.security\.ssl-ca-bytes: holds no PEM certificate/);
  assert.equal((await fetch(`http://${dmq.addr}/api/v1/sources/sneaky`)).status, 404, 'nothing was registered');

  const missing = await runCli(dmq.addr, [
    'operate-source',
    'create',
    await sourceYaml('missing-file', 'localhost', ['  security:', `    ssl-ca: ${join(dir, 'nope.pem')}`]),
  ]);
  assert.equal(missing.code, 1);
  assert.match(String(missing.json.msg), /missing-file\.yaml: from\.security\.ssl-ca: cannot read .*nope\.pem \(ENOENT\)/);
  assert.match(String(missing.json.msg), /workaround: name a PEM file on this machine/);
  const notPem = await runCli(dmq.addr, [
    'start-task',
    await writeConfig('not-pem.yaml', [
      'name: not-pem',
      'task-mode: full',
      'target-database:',
      '  host: localhost',
      '  user: u',
      '  security:',
      `    ssl-key: ${pki.caFile}`,
      'mysql-instances: [{source-id: tls-source}]',
    ]),
  ]);
  assert.equal(notPem.code, 1);
  assert.match(String(notPem.json.msg), /target-database\.security\.ssl-key: .*ca\.pem holds no PEM private key/);
});
