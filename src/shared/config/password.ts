import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DmqError } from '../errors.js';
import type { DbEndpoint } from './types.js';

/**
 * Passwords in DM's encrypted form (`dmctl encrypt`), so a DM user's files work unchanged:
 * base64( 16-byte IV | '@' | AES-256-CFB(plain) ).
 */

/** DM's built-in key, used by dmctl when no secret key file is configured. */
const DM_DEFAULT_KEY_HEX = 'a529b7665997f043a30ac8fadcb51d6aa032c226ab5b7750530b12b8c1a16a48';
const IV_LENGTH = 16;
const SEPARATOR = 0x40; // '@'
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// Read on every call rather than cached so that every process (API, workers) and every test
// sees the environment it was given; DM's equivalent is the secret-key-path file.
function secretKey(): Buffer {
  const custom = process.env.DMQ_SECRET_KEY;
  if (custom === undefined || custom === '') return Buffer.from(DM_DEFAULT_KEY_HEX, 'hex');
  if (!/^[0-9a-fA-F]{64}$/.test(custom)) {
    throw new DmqError('CONFIG_INVALID', 'DMQ_SECRET_KEY must be 64 hex characters (a 32-byte AES-256 key)', {
      where: 'DMQ_SECRET_KEY',
      workaround:
        "set it to 64 hex characters (openssl rand -hex 32), the same key as DM's secret-key-path file if DM shares the encrypted passwords",
    });
  }
  return Buffer.from(custom, 'hex');
}

/**
 * Whether the key in use is DM's default, which is public: whoever reads the stored passwords
 * (Redis, a dump of it) can decrypt them. Throws, as any use of the key would, when
 * DMQ_SECRET_KEY is malformed.
 */
export function usesDefaultSecretKey(): boolean {
  return secretKey().equals(Buffer.from(DM_DEFAULT_KEY_HEX, 'hex'));
}

export function encryptPassword(plain: string): string {
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-cfb', secretKey(), iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, Buffer.from([SEPARATOR]), body]).toString('base64');
}

/** The plain password; a value that is not in DM's encrypted form is already plain and comes back as is. */
export function decryptPassword(stored: string): string {
  // Node's base64 decoder skips junk silently; Go's (which DM uses) rejects it, so check first
  // to avoid treating an ordinary password as ciphertext.
  if (!BASE64.test(stored)) return stored;
  const raw = Buffer.from(stored, 'base64');
  if (raw.length <= IV_LENGTH || raw[IV_LENGTH] !== SEPARATOR) return stored;
  const decipher = createDecipheriv('aes-256-cfb', secretKey(), raw.subarray(0, IV_LENGTH));
  return Buffer.concat([decipher.update(raw.subarray(IV_LENGTH + 1)), decipher.final()]).toString('utf8');
}

/** A copy of the endpoint with its secrets (password, TLS private key) encrypted, for storage. */
export function sealEndpoint<T extends DbEndpoint>(endpoint: T): T {
  return mapSecrets(endpoint, encryptPassword);
}

/** The inverse of sealEndpoint. */
export function unsealEndpoint<T extends DbEndpoint>(endpoint: T): T {
  return mapSecrets(endpoint, decryptPassword);
}

function mapSecrets<T extends DbEndpoint>(endpoint: T, fn: (value: string) => string): T {
  const copy = structuredClone(endpoint);
  copy.password = fn(endpoint.password);
  if (copy.security?.sslKey !== undefined) copy.security.sslKey = fn(copy.security.sslKey);
  return copy;
}
