import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type PemKind, pemProblem } from '../shared/config/pem.js';
import { DmqError } from '../shared/errors.js';

/**
 * DM's `ssl-ca`, `ssl-cert` and `ssl-key` name files on the machine that reads the config. The
 * API reads no such path (src/shared/config/security.ts), so the CLI reads them here, where the
 * user's files are, and sends their contents as `ssl-*-bytes`: a DM user's files keep working.
 */

const SECURITY_BLOCK = { source: ['from', 'security'], task: ['target-database', 'security'] } as const;

const PEM_FILES: readonly [name: string, kind: PemKind][] = [
  ['ssl-ca', 'certificates'],
  ['ssl-cert', 'certificates'],
  ['ssl-key', 'private key'],
];

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `config` (parsed from `file`) with the TLS files it names replaced by their contents. */
export async function inlineTlsFiles(config: unknown, kind: 'source' | 'task', file: string): Promise<unknown> {
  const [outer, inner] = SECURITY_BLOCK[kind];
  const block = isRecord(config) && isRecord(config[outer]) ? config[outer][inner] : undefined;
  if (!isRecord(block)) return config;
  const workaround = `name a PEM file on this machine (a relative path starts from the current directory); the CLI reads it and sends its contents`;
  for (const [name, pemKind] of PEM_FILES) {
    const path = block[name];
    // Another form of the same setting as well: the server reports the conflict.
    if (typeof path !== 'string' || path === '' || block[`${name}-bytes`] !== undefined || block[`${name}-base64`] !== undefined) continue;
    const where = `${file}: ${outer}.${inner}.${name}`;
    let text: string;
    try {
      text = await readFile(resolve(path), 'utf8');
    } catch (err) {
      throw new DmqError(
        'CONFIG_INVALID',
        `${where}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        {
          cause: err,
          where,
          workaround,
        },
      );
    }
    const problem = pemProblem(pemKind, text);
    if (problem) throw new DmqError('CONFIG_INVALID', `${where}: ${path} ${problem}`, { where, workaround });
    block[`${name}-bytes`] = text;
    delete block[name];
  }
  return config;
}
