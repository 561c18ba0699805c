/** The parts of `query-status <task>` that the watch view draws. */
export interface WatchedStatus {
  stage?: string;
  taskMode?: string;
  msg?: string;
  sources?: {
    sourceStatus: { source: string };
    subTaskStatus: {
      stage: string;
      unit: string;
      result: { errors: { ErrCode: string; Message: string; Workaround: string }[] } | null;
      dump: {
        totalChunks: number;
        completedChunks: number;
        finishedRows: number;
        finishedBytes: number;
        estimateTotalRows: number;
        bps: number;
      };
      load: { totalBytes: number; finishedBytes: number; finishedRows: number; completedChunks: number; bps: number };
      sync?: {
        synced: boolean;
        secondsBehindMaster: number | null;
        pendingBatches: number;
        recentTps?: number;
        syncerBinlog: string;
        masterBinlog: string;
      };
    }[];
  }[];
}

export const int = (n: number) => Math.round(n).toLocaleString('en-US');

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

export function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(f * 100).toFixed(1).padStart(5)}%`;
}

type SubTask = NonNullable<WatchedStatus['sources']>[number]['subTaskStatus'][number];

function dumpLine(sub: SubTask, barWidth: number): string {
  const d = sub.dump;
  const fraction = d.totalChunks > 0 ? d.completedChunks / d.totalChunks : 0;
  // Rows per second from the byte rate: the time spent so far is bytes / (bytes per second).
  const seconds = d.bps > 0 ? d.finishedBytes / d.bps : 0;
  const rowsPerSecond = seconds > 0 ? d.finishedRows / seconds : 0;
  const left = d.estimateTotalRows - d.finishedRows;
  const eta = fraction < 1 && rowsPerSecond > 0 && left > 0 ? `  ETA ${duration(left / rowsPerSecond)}` : '';
  return `  dump  ${bar(fraction, barWidth)}  ${d.completedChunks}/${d.totalChunks} chunks  ${int(d.finishedRows)} rows  ${bytes(d.finishedBytes)}  ${bytes(d.bps)}/s${eta}`;
}

function loadLine(sub: SubTask, barWidth: number): string {
  const l = sub.load;
  const total = sub.dump.totalChunks;
  const fraction = total > 0 ? l.completedChunks / total : 0;
  const left = l.totalBytes - l.finishedBytes;
  const eta = fraction < 1 && l.bps > 0 && left > 0 ? `  ETA ${duration(left / l.bps)}` : '';
  return `  load  ${bar(fraction, barWidth)}  ${l.completedChunks}/${total} chunks  ${int(l.finishedRows)} rows  ${bytes(l.finishedBytes)}  ${bytes(l.bps)}/s${eta}`;
}

function syncLine(sub: SubTask): string {
  const s = sub.sync!;
  const lag = s.secondsBehindMaster === null ? 'lag ?' : `lag ${duration(s.secondsBehindMaster)}`;
  const state = s.synced ? 'synced' : 'catching up';
  return `  sync  ${state}  ${lag}  pending ${int(s.pendingBatches)} batches  ${int(s.recentTps ?? 0)} txn/s  applied ${s.syncerBinlog || '-'}  source ${s.masterBinlog || '-'}`;
}

/** One screen of `query-status --watch`: per source its unit, progress bars, lag and errors. */
export function renderWatch(task: string, status: WatchedStatus, width: number): string[] {
  const barWidth = Math.max(10, Math.min(40, width - 70));
  const lines = [`task ${task}  ${status.stage ?? '?'}  mode ${status.taskMode ?? '?'}${status.msg ? `  (${status.msg})` : ''}`];
  for (const source of status.sources ?? []) {
    for (const sub of source.subTaskStatus) {
      lines.push('', `${source.sourceStatus.source}  ${sub.stage}  ${sub.unit}`);
      if (sub.unit !== 'Check') lines.push(dumpLine(sub, barWidth));
      if (sub.unit === 'Load' || sub.unit === 'Sync') lines.push(loadLine(sub, barWidth));
      if (sub.sync && sub.unit === 'Sync') lines.push(syncLine(sub));
      for (const e of sub.result?.errors ?? []) lines.push(`  error ${e.ErrCode}: ${e.Message}`, `        ${e.Workaround}`);
    }
  }
  return lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
}

/** A task in one of these stages will not change without someone acting. */
export const settledStage = (stage: string | undefined) => stage === 'Finished' || stage === 'Paused' || stage === 'Stopped';
