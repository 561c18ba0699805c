import { writeFile } from 'node:fs/promises';
import type { DiffReport } from '../shared/diff/diff-report.js';
import { diffClean } from '../shared/diff/diff-report.js';
import type { ApiClient, ApiResponse } from './api-client.js';
import { diffEvents, renderDiffProgress, renderDiffResult } from './diff-output.js';

const POLL_MS = 500;

/**
 * `dmq diff`: starts a run (or follows one), redraws its progress in a terminal or prints JSON
 * lines in a pipe, writes the fix SQL when something differs, and sets the exit code. Returns
 * the API's answer when it refused, for the caller to print.
 */
export async function runDiff(
  api: ApiClient,
  name: string,
  options: { follow: boolean; fixFile: string; tty: boolean; columns: number },
): Promise<ApiResponse | undefined> {
  const path = `/api/v1/tasks/${encodeURIComponent(name)}/diff`;
  if (!options.follow) {
    const started = await api.request('POST', path);
    if (started.status >= 400) return started;
  }
  const seen = { tables: new Set<string>(), progress: '' };
  let report: DiffReport;
  for (;;) {
    const res = await api.request('GET', path);
    if (res.status >= 400) return res;
    report = res.body as DiffReport;
    if (options.tty) process.stdout.write(`\x1b[H\x1b[2J${renderDiffProgress(report, options.columns).join('\n')}\n`);
    else for (const event of diffEvents(report, seen)) process.stdout.write(`${JSON.stringify(event)}\n`);
    if (report.state !== 'running') break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  let fixFile: string | undefined;
  if (report.fixStatements > 0) {
    const fix = await api.request('GET', `${path}/fix-sql`);
    if (fix.status >= 400) return fix;
    await writeFile(options.fixFile, (fix.body as { sql: string }).sql);
    fixFile = options.fixFile;
  }
  if (options.tty) process.stdout.write(`${renderDiffResult(report, fixFile).join('\n')}\n`);
  else process.stdout.write(`${JSON.stringify({ event: 'done', ...report, fixFile: fixFile ?? null, clean: diffClean(report) })}\n`);
  if (!diffClean(report)) process.exitCode = 1;
  return undefined;
}
