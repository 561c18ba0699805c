/**
 * Where an applier asks a source's binlog reader to read again from its checkpoint: a batch of
 * a table is missing from every queue (Redis lost the job). The value is a position at or
 * after the missing batch.
 */
export const rereadKey = (task: string, sourceId: string) => `dmq:reread:${task}:${sourceId}`;

/** Where the reader answers that it read again for a missing batch: {@link RereadDone}. */
export const rereadDoneKey = (task: string, sourceId: string) => `dmq:reread-done:${task}:${sourceId}`;

export interface RereadDone {
  /** The position the reader was asked to read past. */
  at: string;
  /** When the reader started reading again (ms). */
  time: number;
}
