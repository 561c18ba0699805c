import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

/**
 * Where chunk files live between dump and load. The local directory store serves one host (or
 * several sharing a volume); an S3-compatible store can implement the same contract for
 * processors spread over hosts.
 *
 * Contract: a file becomes visible under its key only when `commit` resolves, and a committed
 * key is never rewritten (dump attempts use fresh keys), so a load that resumes at a byte
 * offset always reads the same bytes.
 */
export interface ChunkWriter {
  stream: Writable;
  /** Make the written bytes visible under the key; resolves with their count. */
  commit(): Promise<number>;
  /** Throw away what was written. */
  abort(): Promise<void>;
}

export interface DumpStore {
  /** Human-readable location for status and errors. */
  describe(): string;
  create(key: string): Promise<ChunkWriter>;
  exists(key: string): Promise<boolean>;
  /** Read a committed file from `offset` (bytes) on. */
  read(key: string, offset: number): Readable;
  remove(key: string): Promise<void>;
  /** Remove every file under a prefix, e.g. a whole task. */
  removePrefix(prefix: string): Promise<void>;
}

/** Longest encoded name part kept as is; file systems allow 255 bytes per name, S3 1024 per key. */
const MAX_SEGMENT = 96;

/** One path segment, safe on any file system and in any bucket, whatever the name holds. */
function segment(name: string): string {
  const encoded = encodeURIComponent(name).replace(/\./g, '%2E').replace(/\*/g, '%2A');
  if (encoded.length <= MAX_SEGMENT) return encoded;
  // Long (e.g. CJK) names keep a readable head and a hash that keeps them distinct.
  return `${encoded.slice(0, MAX_SEGMENT - 17)}~${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

interface ChunkFileParts {
  task: string;
  sourceId: string;
  schema: string;
  table: string;
  index: number;
}

const chunkFilePrefix = (parts: ChunkFileParts) =>
  `${segment(parts.task)}/${segment(parts.sourceId)}/${segment(parts.schema)}.${segment(parts.table)}/${String(parts.index).padStart(6, '0')}-`;

/** Keys are path-like: task/source/schema.table/chunk-attempt.sql; an attempt is hex. */
export function chunkFileKey(parts: ChunkFileParts & { attempt: string }): string {
  return `${chunkFilePrefix(parts)}${parts.attempt}.sql`;
}

/**
 * Whether `key` is a file of this chunk, as chunkFileKey names them: a key read back from the
 * target's meta schema is only trusted this far, so a changed row can name no other file.
 */
export function isChunkFileKey(key: string, parts: ChunkFileParts): boolean {
  const prefix = chunkFilePrefix(parts);
  return key.startsWith(prefix) && /^[0-9a-f]+\.sql$/.test(key.slice(prefix.length));
}

export function taskPrefix(task: string): string {
  return `${segment(task)}/`;
}
