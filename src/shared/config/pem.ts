import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/**
 * What a PEM field holds, read without ever putting its text into a message: a problem names
 * the field and what was expected, never the contents (a misplaced private key must not be
 * echoed into an API answer or a log line).
 */

export type PemKind = 'certificates' | 'private key';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle, leaf first; a problem when there is none or one is broken. */
export function readCertificates(pem: string): X509Certificate[] | string {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) return 'holds no PEM certificate';
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch {
    return 'holds a PEM certificate block that does not parse';
  }
}

export function readPrivateKey(pem: string): KeyObject | string {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) return 'holds no PEM private key';
  if (pem.includes('ENCRYPTED'))
    return 'holds a passphrase-protected private key; dmq needs it unencrypted (openssl pkey -in key.pem -out plain.pem)';
  try {
    return createPrivateKey(pem);
  } catch {
    return 'holds a PEM private key that does not parse';
  }
}

/** Whether `pem` is what a field of `kind` needs; the problem in words otherwise. */
export function pemProblem(kind: PemKind, pem: string): string | undefined {
  const read = kind === 'certificates' ? readCertificates(pem) : readPrivateKey(pem);
  return typeof read === 'string' ? read : undefined;
}

/** A value given where a file path belongs that is PEM text itself. */
export function looksLikePem(value: string): boolean {
  return value.includes('-----BEGIN') || value.includes('\n');
}
