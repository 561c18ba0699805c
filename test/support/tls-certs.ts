import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeOnExit } from '../harness/proc.js';

const run = promisify(execFile);

/** A key pair and its certificate, as files and as PEM text. */
export interface Issued {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  caFile: string;
  ca: string;
  /** Issue a server certificate for these subject alternative names (`DNS:localhost`, `IP:127.0.0.1`). */
  server(name: string, altNames: string[]): Promise<Issued>;
  /** Issue a client certificate with this common name. */
  client(commonName: string): Promise<Issued>;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A throw-away CA made with openssl, as an operator would make one, in a temp dir removed on exit. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'dmq-pki-'));
  removeOnExit(dir);
  const caFile = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  await run('openssl', [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-days',
    '3',
    '-subj',
    '/CN=dmq test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  let serial = 1;
  async function issue(name: string, subject: string, extensions: string[]): Promise<Issued> {
    const keyFile = join(dir, `${name}-key.pem`);
    const certFile = join(dir, `${name}.pem`);
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    await writeFile(ext, `${['basicConstraints=CA:FALSE', ...extensions].join('\n')}\n`);
    await run('openssl', ['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csr, '-subj', subject]);
    serial += 1;
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caFile,
      '-CAkey',
      caKey,
      '-set_serial',
      String(serial),
      '-days',
      '3',
      '-extfile',
      ext,
      '-out',
      certFile,
    ]);
    return { certFile, keyFile, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  }
  return {
    dir,
    caFile,
    ca: await readFile(caFile, 'utf8'),
    server: (name, altNames) =>
      issue(name, `/CN=${altNames[0]!.replace(/^\w+:/, '')}`, [`subjectAltName=${altNames.join(',')}`, 'extendedKeyUsage=serverAuth']),
    client: (commonName) => issue(`client-${commonName}`, `/CN=${commonName}`, ['extendedKeyUsage=clientAuth']),
  };
}
