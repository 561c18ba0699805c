/**
 * How long each test file took on this machine last time, so a run with several stacks starts
 * the longest files first. Kept beside the other things this machine caches for dmq (see
 * scripts/build-tidb.sh); a missing or unreadable file only means alphabetical order.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

// One file per target kind: the MariaDB and the TiDB pass run at once and each writes its own.
const durationsFile = (targetKind: string) =>
  join(process.env.DMQ_CACHE_DIR ?? join(homedir(), '.cache', 'dmq'), `test-durations-${targetKind}.json`);

type Durations = Record<string, number>;

async function readDurations(targetKind: string): Promise<Durations> {
  try {
    return JSON.parse(await readFile(durationsFile(targetKind), 'utf8')) as Durations;
  } catch {
    return {};
  }
}

/** The files, longest first by the last run; files never timed first of all (new tests fail early, if they fail). */
export async function longestFirst(files: string[], targetKind: string): Promise<string[]> {
  const durations = await readDurations(targetKind);
  const seconds = (file: string) => durations[file] ?? Number.POSITIVE_INFINITY;
  return [...files].sort((a, b) => seconds(b) - seconds(a) || a.localeCompare(b));
}

export async function recordDurations(results: { file: string; seconds: number }[], targetKind: string): Promise<void> {
  const durations = await readDurations(targetKind);
  for (const r of results) durations[r.file] = Math.round(r.seconds);
  await mkdir(dirname(durationsFile(targetKind)), { recursive: true });
  await writeFile(durationsFile(targetKind), `${JSON.stringify(durations, null, 2)}\n`);
}
