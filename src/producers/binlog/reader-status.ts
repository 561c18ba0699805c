/** What a binlog reader publishes in Redis every half second, for query-status and metrics. */
export interface ReaderStatus {
  readCoord: string;
  masterCoord: string;
  appliedCoord: string;
  /** With `enable-gtid`: the GTID set at the source's current end, and at `appliedCoord` (DM's masterBinlogGtid, syncerBinlogGtid). */
  masterGtid?: string;
  appliedGtid?: string;
  pendingBatches: number;
  pendingBytes: number;
  /** Source transactions the reader holds (not fully applied): reading pauses at a limit. */
  pendingTransactions: number;
  totalEvents: number;
  lastEventTime: number;
  /** Source time of the oldest transaction read but not yet applied (0: none). */
  oldestPendingTime: number;
  /** Source clock minus this process's clock (ms), so lag is measured on the source's clock. */
  clockOffsetMs: number;
  appliedTransactions: number;
  recentTps: number;
  /** When the source last sent anything, an event or a heartbeat (this process's clock). */
  heardAt: number;
  paused: boolean;
  error?: string;
}

/** The figures of the status the event reader keeps up as it reads. */
export type ReadFigures = Pick<ReaderStatus, 'readCoord' | 'masterCoord' | 'totalEvents' | 'lastEventTime'>;

export const syncStatusKey = (task: string, sourceId: string) => `dmq:sync:${task}:${sourceId}`;
