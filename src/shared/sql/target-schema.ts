import { quoteId } from './quote.js';

/**
 * A target schema dmq creates holds utf8mb4, whatever the target server's default (latin1 on
 * Aurora MySQL 2 and many older servers): a table created in it without a charset clause, as a
 * replicated CREATE TABLE may be, can then hold any value the source held. Tables copied with
 * their SHOW CREATE TABLE keep the source's own charset.
 */
export function createSchemaIfMissing(schema: string): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteId(schema)} CHARACTER SET utf8mb4`;
}
