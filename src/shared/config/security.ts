import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import type { TlsConfig } from './types.js';
import { ignoredShape, strict, text } from './fields.js';

/**
 * DM's `security` block: `ssl-ca`, `ssl-cert`, `ssl-key` are file paths. dmq reads the files
 * when the config is parsed and carries their PEM contents, because the processes that
 * connect may run on other hosts than the one that read the task.
 */

export const IGNORED_SECURITY = {
  'cert-allowed-cn': 'a server-side TLS option; dmq is a client',
};

export const securitySchema = strict(
  { 'ssl-ca': text().optional(), 'ssl-cert': text().optional(), 'ssl-key': text().optional() },
  ignoredShape(IGNORED_SECURITY),
);

type RawSecurity = z.output<typeof securitySchema>;

function readPem(file: string | undefined, path: string, issues: string[]): string | undefined {
  if (file === undefined || file === '') return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    issues.push(`${path}: cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
}

/** `path` is the DM path of the security block, for messages. */
export function loadTls(raw: RawSecurity | undefined, path: string, issues: string[]): TlsConfig | undefined {
  if (!raw) return undefined;
  const tls: TlsConfig = {};
  const sslCa = readPem(raw['ssl-ca'], `${path}.ssl-ca`, issues);
  const sslCert = readPem(raw['ssl-cert'], `${path}.ssl-cert`, issues);
  const sslKey = readPem(raw['ssl-key'], `${path}.ssl-key`, issues);
  if (sslCa !== undefined) tls.sslCa = sslCa;
  if (sslCert !== undefined) tls.sslCert = sslCert;
  if (sslKey !== undefined) tls.sslKey = sslKey;
  return Object.keys(tls).length > 0 ? tls : undefined;
}
