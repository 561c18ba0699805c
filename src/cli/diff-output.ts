import type { DiffReport, TableDiffReport } from '../shared/diff/diff-report.js';
import { bar, int } from './watch.js';

/** Differing rows a terminal shows per table; the report and the fix file hold them all (up to the run's limit). */
const ROWS_SHOWN = 20;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const settled = (t: TableDiffReport) => t.outcome !== 'pending';

function keyText(key: Record<string, string | null>): string {
  return Object.entries(key)
    .map(([column, value]) => `${column}=${value === null ? 'NULL' : JSON.stringify(value)}`)
    .join(', ');
}

/** The terminal view while a diff runs: one bar for the run, one line per table. */
export function renderDiffProgress(report: DiffReport, width: number): string[] {
  const chunks = report.tables.reduce((n, t) => n + t.chunks, 0);
  const done = report.tables.reduce((n, t) => n + t.chunksDone, 0);
  const lines = [
    `dmq diff ${report.task} (${report.id}): ${report.state}`,
    `${bar(chunks === 0 ? 0 : done / chunks, Math.max(10, Math.min(50, width - 30)))} ${int(done)}/${int(chunks)} chunks`,
    '',
  ];
  for (const t of report.tables) {
    const progress = t.chunks > 0 ? ` ${t.chunksDone}/${t.chunks} chunks` : '';
    lines.push(
      `  ${t.outcome.padEnd(9)} ${t.table}${progress}, ${int(t.rows)} rows${t.differentRows ? `, ${int(t.differentRows)} differ` : ''}`,
    );
  }
  return lines;
}

/** The result, table by table: outcome, figures, notes, and the differing rows by key. */
export function renderDiffResult(report: DiffReport, fixFile: string | undefined): string[] {
  const lines: string[] = [];
  for (const t of report.tables) {
    lines.push(
      `${t.outcome.toUpperCase().padEnd(9)} ${t.table} <- ${t.sources.join(', ') || '(no source table)'}: ${int(t.rows)} rows, ${t.chunks} chunks (${t.chunksDifferent} different), ${seconds(t.ms)}`,
    );
    for (const note of t.notes) lines.push(`          ${note}`);
    for (const row of t.differences.slice(0, ROWS_SHOWN)) {
      lines.push(`          ${row.kind.padEnd(7)} ${keyText(row.key)}${row.count > 1 ? ` (x${row.count})` : ''}`);
    }
    if (t.differentRows > ROWS_SHOWN) lines.push(`          … ${int(t.differentRows - ROWS_SHOWN)} more in the report and the fix SQL`);
  }
  const different = report.tables.filter((t) => t.outcome !== 'equal').length;
  if (report.state === 'failed') lines.push(`diff failed: ${report.error?.message ?? 'unknown error'}`);
  else
    lines.push(
      different === 0 ? `all ${report.tables.length} tables equal` : `${different} of ${report.tables.length} tables not proven equal`,
    );
  if (fixFile) lines.push(`fix SQL (${int(report.fixStatements)} statements): ${fixFile}`);
  return lines;
}

/**
 * JSON lines for a pipe: a progress line when the counts move, a line per table when it settles,
 * and the report's end. `seen` is what earlier lines told (tables already settled, last progress).
 */
export function diffEvents(report: DiffReport, seen: { tables: Set<string>; progress: string }): object[] {
  const events: object[] = [];
  const chunks = report.tables.reduce((n, t) => n + t.chunks, 0);
  const chunksDone = report.tables.reduce((n, t) => n + t.chunksDone, 0);
  const progress = JSON.stringify([report.state, chunksDone, chunks]);
  if (progress !== seen.progress) {
    seen.progress = progress;
    events.push({ event: 'progress', id: report.id, state: report.state, chunks, chunksDone });
  }
  for (const t of report.tables) {
    if (!settled(t) || seen.tables.has(t.table)) continue;
    seen.tables.add(t.table);
    events.push({ event: 'table', ...t });
  }
  return events;
}
