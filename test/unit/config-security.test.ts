import assert from 'node:assert/strict';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { inlineTlsFiles } from '../../src/cli/tls-files.js';
import { tlsFileAccess, type TlsFileAccess } from '../../src/shared/config/security.js';
import { parseSourceYaml } from '../../src/shared/config/source.js';
import { parseTaskObject } from '../../src/shared/config/task.js';
import { DmqError } from '../../src/shared/errors.js';
import { createTestPki, type Issued, type TestPki } from '../support/tls-certs.js';

let pki: TestPki;
let client: Issued;
let other: Issued;
/** DMQ_TLS_DIR with the CA and the client pair in it, and a symlink pointing out of it. */
let tlsDir: TlsFileAccess;

before(async () => {
  pki = await createTestPki();
  client = await pki.client('dmq');
  other = await pki.client('someone-else');
  const dir = await mkdtemp(join(tmpdir(), 'dmq-tls-dir-'));
  await mkdir(join(dir, 'certs'));
  await writeFile(join(dir, 'certs', 'ca.pem'), pki.ca);
  await writeFile(join(dir, 'client.pem'), client.cert);
  await writeFile(join(dir, 'client-key.pem'), client.key);
  await symlink('/etc/passwd', join(dir, 'escape.pem'));
  tlsDir = tlsFileAccess(dir);
});

/** A task whose target has this `security` block, parsed with `files`. */
const targetTls = (security: unknown, files?: TlsFileAccess) =>
  parseTaskObject(
    {
      name: 't1',
      'task-mode': 'all',
      'target-database': { host: 'tidb', user: 'root', security },
      'mysql-instances': [{ 'source-id': 's1' }],
    },
    files,
  ).target.security;

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DmqError && err.code === 'CONFIG_INVALID', String(err));
    return err.message;
  }
  assert.fail('expected a config error');
}

describe('security: file paths sent to the API', () => {
  for (const path of ['/etc/passwd', '/proc/self/environ', 'ca.pem']) {
    test(`${path} is not read without DMQ_TLS_DIR, and the error names the field`, () => {
      const message = problems(() => targetTls({ 'ssl-key': path }));
      assert.match(message, /target-database\.security\.ssl-key: ".*" is a path on the dmq server/);
      assert.match(message, /ssl-key-bytes/);
      assert.ok(!message.includes('root:x:0'), 'no file contents in the message');
    });
  }

  test('inside DMQ_TLS_DIR a path is read, relative to the directory or absolute', () => {
    const tls = targetTls({ 'ssl-ca': 'certs/ca.pem', 'ssl-cert': join(tlsDir.dir!, 'client.pem'), 'ssl-key': 'client-key.pem' }, tlsDir);
    assert.deepEqual(tls, { sslCa: pki.ca, sslCert: client.cert, sslKey: client.key, verifyHostname: true });
  });

  test('a path out of DMQ_TLS_DIR is refused, by .. or by a symlink', () => {
    // Existing or not, a path outside gets the same answer: no probing of the server's files.
    for (const path of ['../../etc/passwd', '/etc/passwd', '/no/such/file.pem', 'escape.pem', 'certs/../../x.pem']) {
      const message = problems(() => targetTls({ 'ssl-ca': path }, tlsDir));
      assert.match(message, /target-database\.security\.ssl-ca: ".*" is outside DMQ_TLS_DIR/, path);
      assert.ok(!message.includes('root:x:0'), path);
    }
    assert.match(
      problems(() => targetTls({ 'ssl-ca': 'missing.pem' }, tlsDir)),
      /ssl-ca: cannot read "missing\.pem" in DMQ_TLS_DIR \(ENOENT\)/,
    );
    assert.match(
      problems(() => targetTls({ 'ssl-ca': 'certs' }, tlsDir)),
      /ssl-ca: "certs" is not a PEM file/,
    );
  });

  test('PEM text given as a path is not echoed back', () => {
    const message = problems(() => targetTls({ 'ssl-key': client.key }));
    assert.match(message, /ssl-key: holds PEM contents, but ssl-key names a file; put the contents in ssl-key-bytes/);
    assert.ok(!message.includes(client.key.split('\n')[1]!));
  });

  test('DMQ_TLS_DIR must be a directory', () => {
    assert.throws(() => tlsFileAccess('/nonexistent/dmq-tls'), /DMQ_TLS_DIR "\/nonexistent\/dmq-tls" is not a directory/);
    assert.throws(() => tlsFileAccess('/etc/passwd'), /is not a directory/);
  });
});

describe('security: contents', () => {
  test('ssl-*-bytes and ssl-*-base64 carry the PEM itself (DM)', () => {
    const base64 = (text: string) => Buffer.from(text).toString('base64');
    assert.deepEqual(targetTls({ 'ssl-ca-bytes': pki.ca, 'ssl-cert-base64': base64(client.cert), 'ssl-key-bytes': client.key }), {
      sslCa: pki.ca,
      sslCert: client.cert,
      sslKey: client.key,
      verifyHostname: true,
    });
  });

  test("ssl-*-bytes as the byte lists DM's YAML writes; an empty list is no setting", () => {
    const bytes = (text: string) => [...Buffer.from(text)];
    assert.deepEqual(targetTls({ 'ssl-ca-bytes': bytes(pki.ca), 'ssl-cert-bytes': [], 'ssl-key-bytes': [] }), {
      sslCa: pki.ca,
      verifyHostname: true,
    });
    assert.match(
      problems(() => targetTls({ 'ssl-ca-bytes': [45, 300] })),
      /ssl-ca-bytes\[1\]: expected a byte value \(0-255\), got 300/,
    );
  });

  test('bad PEM names the field and never shows the value', () => {
    const message = problems(() =>
      targetTls({ 'ssl-ca-bytes': 'not a certificate', 'ssl-cert-bytes': client.key, 'ssl-key-bytes': client.cert }),
    );
    assert.match(message, /ssl-ca-bytes: holds no PEM certificate/);
    assert.match(message, /ssl-cert-bytes: holds no PEM certificate/);
    assert.match(message, /ssl-key-bytes: holds no PEM private key/);
    assert.ok(!message.includes('not a certificate') && !message.includes(client.key.split('\n')[1]!), message);
  });

  test('a certificate block that does not parse, and a broken key', () => {
    const broken = client.cert.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    const message = problems(() =>
      targetTls({ 'ssl-cert-bytes': broken, 'ssl-key-bytes': '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }),
    );
    assert.match(message, /ssl-cert-bytes: holds a PEM certificate block that does not parse/);
    assert.match(message, /ssl-key-bytes: holds a PEM private key that does not parse/);
  });

  test('the key must belong to the certificate, and they come together', () => {
    assert.match(
      problems(() => targetTls({ 'ssl-cert-bytes': client.cert, 'ssl-key-bytes': other.key })),
      /ssl-key-bytes: is not the private key of the certificate in target-database\.security\.ssl-cert-bytes/,
    );
    assert.match(
      problems(() => targetTls({ 'ssl-cert-bytes': client.cert })),
      /ssl-cert and ssl-key go together/,
    );
  });

  test('one form per setting', () => {
    assert.match(
      problems(() => targetTls({ 'ssl-ca': 'ca.pem', 'ssl-ca-bytes': pki.ca })),
      /target-database\.security\.ssl-ca: give only one of ssl-ca, ssl-ca-bytes/,
    );
    assert.match(
      problems(() => targetTls({ 'ssl-ca-base64': 'not base64!' })),
      /ssl-ca-base64: is not base64/,
    );
  });
});

describe('security: switches', () => {
  test('ssl-required alone: TLS verified with the default CA store', () => {
    assert.deepEqual(targetTls({ 'ssl-required': true }), { verifyHostname: true });
    assert.equal(targetTls({ 'ssl-required': false }), undefined);
    assert.equal(targetTls({}), undefined);
  });

  test('ssl-verify-hostname: false for IP-addressed servers; cert-allowed-cn as DM has it', () => {
    assert.deepEqual(targetTls({ 'ssl-ca-bytes': pki.ca, 'ssl-verify-hostname': false, 'cert-allowed-cn': ['db-1'] }), {
      sslCa: pki.ca,
      certAllowedCn: ['db-1'],
      verifyHostname: false,
    });
    assert.deepEqual(targetTls({ 'cert-allowed-cn': ['db-1'] }), { certAllowedCn: ['db-1'], verifyHostname: true });
  });

  test('contradictions are named', () => {
    assert.match(
      problems(() => targetTls({ 'ssl-verify-hostname': false })),
      /ssl-verify-hostname: applies only to TLS connections/,
    );
    assert.match(
      problems(() => targetTls({ 'ssl-required': false, 'ssl-ca-bytes': pki.ca })),
      /ssl-required: false, but the block configures TLS/,
    );
  });

  test('source.yaml takes the same block under from.security', () => {
    const source = parseSourceYaml(
      `source-id: s1\nfrom:\n  host: db.example\n  user: u\n  security:\n    ssl-required: true\n    ssl-verify-hostname: false\n`,
    );
    assert.deepEqual(source.from.security, { verifyHostname: false });
    assert.match(
      problems(() => parseSourceYaml('source-id: s1\nfrom: {host: h, user: u, security: {ssl-ca: /etc/passwd}}\n')),
      /from\.security\.ssl-ca: "\/etc\/passwd" is a path/,
    );
  });
});

describe('the CLI sends the contents of the files a config names', () => {
  const task = (security: Record<string, unknown>) => ({ name: 't', 'target-database': { host: 'h', security } });

  test('local files become ssl-*-bytes', async () => {
    const sent = (await inlineTlsFiles(
      task({ 'ssl-ca': pki.caFile, 'ssl-cert': client.certFile, 'ssl-key': client.keyFile }),
      'task',
      'task.yaml',
    )) as ReturnType<typeof task>;
    assert.deepEqual(sent['target-database'].security, {
      'ssl-ca-bytes': pki.ca,
      'ssl-cert-bytes': client.cert,
      'ssl-key-bytes': client.key,
    });
    const source = { 'source-id': 's', from: { host: 'h', security: { 'ssl-ca': pki.caFile } } };
    assert.deepEqual(((await inlineTlsFiles(source, 'source', 'source.yaml')) as typeof source).from.security, { 'ssl-ca-bytes': pki.ca });
  });

  test('a missing file and a file that is not PEM are named', async () => {
    await assert.rejects(inlineTlsFiles(task({ 'ssl-ca': join(pki.dir, 'nope.pem') }), 'task', 'my-task.yaml'), (err: unknown) => {
      assert.ok(err instanceof DmqError && err.code === 'CONFIG_INVALID');
      assert.match(err.message, /^my-task\.yaml: target-database\.security\.ssl-ca: cannot read .*nope\.pem \(ENOENT\)/);
      return true;
    });
    await assert.rejects(
      inlineTlsFiles(task({ 'ssl-key': pki.caFile }), 'task', 'my-task.yaml'),
      /ssl-key: .*ca\.pem holds no PEM private key/,
    );
  });

  test('a setting given in another form as well is left for the server to report', async () => {
    const both = task({ 'ssl-ca': pki.caFile, 'ssl-ca-bytes': pki.ca });
    assert.deepEqual(await inlineTlsFiles(structuredClone(both), 'task', 'task.yaml'), both);
  });
});
