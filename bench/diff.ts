/**
 * Diff benchmark: `dmq diff` of a copied sysbench table against CHECKSUM TABLE on both servers.
 *
 *   npx tsx bench/diff.ts [--target mariadb|tidb] [--rows 1000000] [--chunk-rows 100000] [--keep] [--no-build]
 *
 * One run: private Redis, upstream MariaDB (binlog on) and a target on free ports in a temp dir;
 * N rows in sbtest.sbtest1 upstream, copied by a `task-mode: full` dmq task. Then, with the
 * servers quiet: CHECKSUM TABLE on the upstream and on the target at the same time (TiDB: ADMIN
 * CHECKSUM TABLE, its own equivalent), then `dmq diff` of the task, timed from the CLI's start to
 * its exit. Prints both, the ratio, and dmq's peak memory. Everything started is stopped.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TargetKind } from '../test/harness/servers.js';
import { runCli } from '../test/support/dmq.js';
import { CpuReport, waitForQuiet, warnIfBusy } from './lib/cpu-report.js';
import { createSource, DMQ, startDmq, waitForFinished, withDmqLog, writeTask } from './lib/dmq-process.js';
import { int, log, mib, perSec, secs, table } from './lib/format.js';
import { integerOption, targetOption } from './lib/options.js';
import { ensureBuilt } from './lib/prerequisites.js';
import { startOneTarget } from './lib/one-target.js';
import { benchDir, runBench } from './lib/processes.js';
import { readProcess, resetPeakRss } from './lib/proc-stats.js';
import { SBTEST1, SCHEMA, seed } from './lib/sbtest.js';
import { withConnection, type Server } from './lib/sql.js';
import { describeTarget } from './lib/target.js';

const TASK = 'bench-diff';
const SOURCE_ID = 'bench-upstream';

interface Options {
  target: TargetKind;
  rows: number;
  chunkRows: number;
  keep: boolean;
  build: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'mariadb' },
      rows: { type: 'string', default: '1000000' },
      'chunk-rows': { type: 'string', default: '100000' },
      keep: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      [
        'usage: npx tsx bench/diff.ts [options]',
        '  --target KIND       the target: mariadb or tidb (default mariadb)',
        '  --rows N            rows in sbtest.sbtest1 (default 1000000)',
        '  --chunk-rows N      dmq mydumpers.rows: the copy and the diff split tables in chunks of N rows (default 100000)',
        '  --keep              keep the temp dir (server logs, dmq.log)',
        '  --no-build          use dist/ as it is, even if src/ is newer',
      ].join('\n'),
    );
    process.exit(0);
  }
  return {
    target: targetOption(values.target),
    rows: integerOption('rows', values.rows, 1),
    chunkRows: integerOption('chunk-rows', values['chunk-rows'], 1),
    keep: values.keep,
    build: !values['no-build'],
  };
}

/** CHECKSUM TABLE on one server (TiDB: ADMIN CHECKSUM TABLE); its time, from the client. */
async function checksumTable(server: Server, kind: TargetKind | 'upstream'): Promise<{ from: number; to: number }> {
  return withConnection(server, async (conn) => {
    const from = Date.now();
    await conn.query(kind === 'tidb' ? `ADMIN CHECKSUM TABLE ${SBTEST1}` : `CHECKSUM TABLE ${SBTEST1}`);
    return { from, to: Date.now() };
  });
}

async function main(): Promise<void> {
  const options = parseOptions();
  ensureBuilt(options.build);
  const dir = await benchDir(options.keep);
  const { redis, upstream, target, targetProcess, targetVersion, sampler } = await startOneTarget(dir, options.target);
  const facts = await seed(upstream, options.rows);

  const dmq = await startDmq(dir, redis, sampler);
  await createSource(dmq, dir, SOURCE_ID, upstream);
  const taskYaml = await writeTask(dir, {
    name: TASK,
    mode: 'full',
    target,
    sourceId: SOURCE_ID,
    schema: SCHEMA,
    instance: ['mydumper-config-name: "bench"'],
    sections: `mydumpers:\n  bench:\n    rows: ${options.chunkRows}\n`,
  });
  log('copying with a full task');
  const started = await runCli(dmq.addr, ['start-task', taskYaml]);
  if (started.code !== 0) throw new Error(`start-task failed: ${started.stdout}`);
  await withDmqLog(dmq, () => waitForFinished(dmq.addr, TASK, 900_000));

  await waitForQuiet(sampler, ['upstream mariadbd', targetProcess, DMQ]);
  warnIfBusy(sampler);
  log('CHECKSUM TABLE on both servers at once');
  const [onSource, onTarget] = await Promise.all([checksumTable(upstream, 'upstream'), checksumTable(target, options.target)]);
  const checksum = {
    name: 'CHECKSUM TABLE, both at once',
    from: Math.min(onSource.from, onTarget.from),
    to: Math.max(onSource.to, onTarget.to),
  };

  await waitForQuiet(sampler, ['upstream mariadbd', targetProcess, DMQ]);
  log('dmq diff');
  // The copy's peak is not the diff's: measure the memory of the diff alone.
  resetPeakRss(dmq.pid);
  const idleRss = readProcess(dmq.pid)?.rssBytes ?? 0;
  const from = sampler.sampleNow();
  const diffed = await runCli(dmq.addr, ['diff', TASK, '--fix-sql', join(dir, 'fix.sql')]);
  const diff = { name: 'dmq diff (CLI start → exit)', from, to: sampler.sampleNow() };
  const done = JSON.parse(diffed.stdout.trim().split('\n').at(-1) ?? '{}') as {
    clean?: boolean;
    tables?: { rows: number; chunks: number }[];
  };
  if (diffed.code !== 0 || done.clean !== true) throw new Error(`dmq diff did not find the copy equal:\n${diffed.stdout}${diffed.stderr}`);
  const peakRss = readProcess(dmq.pid)?.peakRssBytes ?? 0;
  sampler.stop();
  await dmq.stop();

  const rows: string[][] = [['run', 'wall', 'rows/s']];
  for (const run of [checksum, { name: '  upstream', ...onSource }, { name: '  target', ...onTarget }, diff]) {
    rows.push([run.name, secs(run.to - run.from), int(perSec(facts.rows, run.to - run.from))]);
  }
  const ratio = (diff.to - diff.from) / (checksum.to - checksum.from);
  console.log(
    [
      '',
      `=== dmq diff benchmark: ${SCHEMA}.sbtest1, ${int(facts.rows)} rows (${mib(facts.dataLength)} data), target ${describeTarget(options.target, targetVersion)} ===`,
      `dmq diff compared ${int(done.tables?.[0]?.rows ?? 0)} rows in ${done.tables?.[0]?.chunks ?? 0} chunks; dmq serve RSS ${mib(idleRss)} before it, peak ${mib(peakRss)} during it`,
      '',
      table(rows),
      '',
      `ratio dmq diff / CHECKSUM TABLE on both: ${ratio.toFixed(2)}x (goal < 2x)`,
      '',
      new CpuReport(sampler, ['dmq', 'upstream mariadbd', targetProcess, 'redis', 'bench']).costs([checksum, diff]),
    ].join('\n'),
  );
}

await runBench(main);
