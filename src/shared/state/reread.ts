/**
 * Where an applier asks a source's binlog reader to read again from its checkpoint: a batch of
 * a table is missing from every queue (Redis lost the job). The value is the table's position,
 * for the reader's log.
 */
export const rereadKey = (task: string, sourceId: string) => `dmq:reread:${task}:${sourceId}`;
