import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { DmqError } from '../errors.js';
import { flag, list, nonEmptyText, strict, text } from './fields.js';
import { looksLikePem, readCertificates, readPrivateKey } from './pem.js';
import type { TlsConfig } from './types.js';

/**
 * DM's `security` block, and where dmq takes TLS material from. DM reads `ssl-ca`, `ssl-cert`
 * and `ssl-key` as files on its own host; dmq's API would then read any file of the API host
 * for whoever may submit a config, so over the API a path is read only inside the directory the
 * operator names (DMQ_TLS_DIR), and otherwise the contents come in `ssl-*-bytes` (the dmq CLI
 * reads the user's local files and sends them so). What is stored is the PEM contents, so
 * processes on other hosts can connect too.
 */

/**
 * DM declares the `-bytes` fields as Go byte slices, which its YAML writes as lists of byte
 * values (`ssl-ca-bytes: []` when empty); as text they are the PEM contents themselves.
 */
const BYTE_ERROR = 'expected a byte value (0-255)';
const byteValue = z.int({ error: BYTE_ERROR }).min(0, { error: BYTE_ERROR }).max(255, { error: BYTE_ERROR });

const pemBytes = () =>
  z
    .union([z.string(), z.array(byteValue)], { error: 'expected the PEM contents as text, or a list of byte values (0-255)' })
    .transform((value) => (typeof value === 'string' ? value : Buffer.from(value).toString('utf8')));

export const securitySchema = strict({
  'ssl-ca': text().optional(),
  'ssl-cert': text().optional(),
  'ssl-key': text().optional(),
  'ssl-ca-bytes': pemBytes().optional(),
  'ssl-cert-bytes': pemBytes().optional(),
  'ssl-key-bytes': pemBytes().optional(),
  'ssl-ca-base64': text().optional(),
  'ssl-cert-base64': text().optional(),
  'ssl-key-base64': text().optional(),
  'cert-allowed-cn': list(nonEmptyText()).optional(),
  'ssl-required': flag().optional(),
  'ssl-verify-hostname': flag().optional(),
});

/** DM's OpenAPI `security`: the contents themselves, snake_case. */
export const openApiSecuritySchema = strict({
  ssl_ca_content: text().optional(),
  ssl_cert_content: text().optional(),
  ssl_key_content: text().optional(),
  cert_allowed_cn: list(nonEmptyText()).optional(),
  ssl_required: flag().optional(),
  ssl_verify_hostname: flag().optional(),
});

type RawSecurity = z.output<typeof securitySchema>;
type RawOpenApiSecurity = z.output<typeof openApiSecuritySchema>;

/** The files a config may name: only those inside `dir` (a resolved real path); none without it. */
export interface TlsFileAccess {
  dir?: string;
}

export const NO_TLS_FILES: TlsFileAccess = {};

/** A TLS file larger than this is not a certificate bundle. */
const MAX_PEM_BYTES = 1 << 20;

/** DMQ_TLS_DIR checked once at start, so a typo fails `dmq serve` rather than every submission. */
export function tlsFileAccess(dir: string | undefined): TlsFileAccess {
  if (dir === undefined || dir === '') return NO_TLS_FILES;
  try {
    const real = realpathSync(dir);
    if (statSync(real).isDirectory()) return { dir: real };
  } catch {
    // reported below, as for a file
  }
  throw new DmqError('CONFIG_INVALID', `DMQ_TLS_DIR ${JSON.stringify(dir)} is not a directory dmq can read`, {
    where: 'DMQ_TLS_DIR',
    workaround: 'point it at the directory holding the CA, certificate and key files configs may name, or unset it',
  });
}

/** PEM text and the field it came from, for messages. */
interface Pem {
  text: string;
  field: string;
}

type Material = 'ssl-ca' | 'ssl-cert' | 'ssl-key';

/** How dmq connects to one server: each piece as it came, before it is checked and assembled. */
interface TlsInput {
  ca?: Pem | undefined;
  cert?: Pem | undefined;
  key?: Pem | undefined;
  allowedCn?: string[] | undefined;
  required?: boolean | undefined;
  verifyHostname?: boolean | undefined;
}

function decodeBase64(value: string, field: string, issues: string[]): Pem | undefined {
  const compact = value.replace(/[\r\n]/g, '');
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.toString('base64') !== compact) {
    issues.push(`${field}: is not base64 (standard alphabet, padded)`);
    return undefined;
  }
  return { text: bytes.toString('utf8'), field };
}

function within(dir: string, path: string): boolean {
  const inside = relative(dir, path);
  return inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside);
}

function readConfined(file: string, field: string, name: Material, files: TlsFileAccess, issues: string[]): Pem | undefined {
  if (looksLikePem(file)) {
    issues.push(`${field}: holds PEM contents, but ${name} names a file; put the contents in ${name}-bytes`);
    return undefined;
  }
  const given = JSON.stringify(file);
  if (files.dir === undefined) {
    issues.push(
      `${field}: ${given} is a path on the dmq server, and dmq reads no server file a config sent to its API names; ` +
        `send the PEM contents in ${name}-bytes (the dmq CLI reads ${name} on your machine and does this), ` +
        'or have the operator set DMQ_TLS_DIR and name a file inside it',
    );
    return undefined;
  }
  // Outside by its name: refused before the file system is asked, so answers tell nothing of
  // what exists there. Inside by name but not in fact (a symlink): refused once resolved.
  const named = resolve(files.dir, file);
  const outside = `${field}: ${given} is outside DMQ_TLS_DIR; name a file inside that directory`;
  if (!within(files.dir, named)) {
    issues.push(outside);
    return undefined;
  }
  let real: string;
  try {
    real = realpathSync(named);
  } catch (err) {
    issues.push(`${field}: cannot read ${given} in DMQ_TLS_DIR (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    return undefined;
  }
  if (!within(files.dir, real)) {
    issues.push(outside);
    return undefined;
  }
  const stat = statSync(real);
  if (!stat.isFile() || stat.size > MAX_PEM_BYTES) {
    issues.push(`${field}: ${given} is not a PEM file (a regular file of at most ${MAX_PEM_BYTES} bytes)`);
    return undefined;
  }
  return { text: readFileSync(real, 'utf8'), field: `${field} (${given})` };
}

/** The one form of `name` the block gives: a path, `-bytes` contents or `-base64` contents. */
function material(raw: RawSecurity, name: Material, at: string, files: TlsFileAccess, issues: string[]): Pem | undefined {
  const forms = [name, `${name}-bytes`, `${name}-base64`] as const;
  const given = forms.filter((key) => (raw[key] ?? '') !== '');
  if (given.length > 1) {
    issues.push(`${at}.${given[0]}: give only one of ${given.join(', ')}`);
    return undefined;
  }
  const key = given[0];
  if (key === undefined) return undefined;
  const value = raw[key]!;
  const field = `${at}.${key}`;
  if (key.endsWith('-bytes')) return { text: value, field };
  if (key.endsWith('-base64')) return decodeBase64(value, field, issues);
  return readConfined(value, field, name, files, issues);
}

/** The contents of the certificates in `pem`, or undefined with the problem recorded. */
function certificates(pem: Pem, issues: string[]) {
  const read = readCertificates(pem.text);
  if (typeof read === 'string') issues.push(`${pem.field}: ${read}`);
  return typeof read === 'string' ? undefined : read;
}

/** Checks the pieces and puts them together; undefined when the server is reached without TLS. */
function buildTls(input: TlsInput, at: string, issues: string[]): TlsConfig | undefined {
  const { ca, cert, key, allowedCn, required, verifyHostname } = input;
  const enabled = (ca ?? cert ?? key) !== undefined || required === true || (allowedCn?.length ?? 0) > 0;
  if (required === false && enabled) {
    issues.push(`${at}.ssl-required: false, but the block configures TLS; remove ssl-required or the certificate settings`);
    return undefined;
  }
  if (!enabled) {
    if (verifyHostname !== undefined) {
      issues.push(`${at}.ssl-verify-hostname: applies only to TLS connections; give ssl-ca, or ssl-required: true`);
    }
    return undefined;
  }
  if ((cert === undefined) !== (key === undefined)) {
    issues.push(`${at}: ssl-cert and ssl-key go together (the client certificate and its private key); give both or neither`);
  }
  if (ca) certificates(ca, issues);
  const chain = cert ? certificates(cert, issues) : undefined;
  const privateKey = key ? readPrivateKey(key.text) : undefined;
  if (key && typeof privateKey === 'string') issues.push(`${key.field}: ${privateKey}`);
  if (chain && privateKey && typeof privateKey !== 'string' && !chain[0]!.checkPrivateKey(privateKey)) {
    issues.push(`${key!.field}: is not the private key of the certificate in ${cert!.field}`);
  }
  const tls: TlsConfig = { verifyHostname: verifyHostname ?? true };
  if (ca) tls.sslCa = ca.text;
  if (cert) tls.sslCert = cert.text;
  if (key) tls.sslKey = key.text;
  if (allowedCn && allowedCn.length > 0) tls.certAllowedCn = allowedCn;
  return tls;
}

/** A task's or source's `security` block; `at` is its path, for messages. */
export function loadTls(raw: RawSecurity | undefined, at: string, files: TlsFileAccess, issues: string[]): TlsConfig | undefined {
  if (!raw) return undefined;
  const input: TlsInput = {
    ca: material(raw, 'ssl-ca', at, files, issues),
    cert: material(raw, 'ssl-cert', at, files, issues),
    key: material(raw, 'ssl-key', at, files, issues),
    allowedCn: raw['cert-allowed-cn'],
    required: raw['ssl-required'],
    verifyHostname: raw['ssl-verify-hostname'],
  };
  return buildTls(input, at, issues);
}

/** The same for DM's OpenAPI `security` object. */
export function loadOpenApiTls(raw: RawOpenApiSecurity | undefined, at: string, issues: string[]): TlsConfig | undefined {
  if (!raw) return undefined;
  const pem = (key: 'ssl_ca_content' | 'ssl_cert_content' | 'ssl_key_content') =>
    raw[key] ? { text: raw[key], field: `${at}.${key}` } : undefined;
  const input: TlsInput = {
    ca: pem('ssl_ca_content'),
    cert: pem('ssl_cert_content'),
    key: pem('ssl_key_content'),
    allowedCn: raw.cert_allowed_cn,
    required: raw.ssl_required,
    verifyHostname: raw.ssl_verify_hostname,
  };
  return buildTls(input, at, issues);
}
