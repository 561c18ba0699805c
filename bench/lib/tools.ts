/** mydumper and myloader run as sampled child processes. */
import { closeSync, openSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tail } from '../../test/harness/proc.js';
import { log, secs } from './format.js';
import { exitOf, spawnTracked } from './processes.js';
import type { ProcessSampler } from './proc-stats.js';
import type { Server } from './sql.js';

export interface ToolResult {
  name: string;
  from: number;
  to: number;
  peakRss: number;
}

/** Runs a tool to its end, sampled under its own name (or `label`); throws with its log tail if it fails. */
export async function runTool(name: string, args: string[], logPath: string, sampler: ProcessSampler, label = name): Promise<ToolResult> {
  log(`${name} ${args.join(' ')}`);
  const fd = openSync(logPath, 'w');
  const from = sampler.sampleNow();
  const child = spawnTracked(name, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid !== undefined) sampler.track(label, child.pid);
  const code = await exitOf(child);
  const to = sampler.sampleNow();
  sampler.untrack(label);
  if (code !== 0) throw new Error(`${name} exited with ${code}; ${logPath} ends with:\n${await tail(logPath)}`);
  log(`${name} done in ${secs(to - from)}`);
  return { name, from, to, peakRss: sampler.peakRss(label) };
}

/** How mydumper and myloader log in; no -p for a server without a password (the target). */
const loginArgs = (server: Server) => [
  '-h',
  server.host,
  '-P',
  String(server.port),
  '-u',
  server.user,
  ...(server.password ? ['-p', server.password] : []),
];

export function mydumperArgs(server: Server, schema: string, threads: number, rows: number, out: string): string[] {
  return [...loginArgs(server), '-B', schema, '-t', String(threads), '-r', String(rows), '-o', out];
}

export function myloaderArgs(server: Server, threads: number, dir: string): string[] {
  return [...loginArgs(server), '-t', String(threads), '-d', dir];
}

export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
