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

/** Keys are path-like and safe on any file system and in any bucket, whatever the table names are. */
export function chunkFileKey(parts: { task: string; sourceId: string; schema: string; table: string; index: number; attempt: string }): string {
  const seg = (s: string) => encodeURIComponent(s).replace(/\./g, '%2E').replace(/\*/g, '%2A');
  return `${seg(parts.task)}/${seg(parts.sourceId)}/${seg(parts.schema)}.${seg(parts.table)}/${String(parts.index).padStart(6, '0')}-${parts.attempt}.sql`;
}

export function taskPrefix(task: string): string {
  return `${encodeURIComponent(task)}/`;
}
