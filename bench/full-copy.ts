/**
 * Full-copy benchmark: dmq against mydumper + myloader on the same sysbench-like table.
 *
 *   npx tsx bench/full-copy.ts [--target mariadb|tidb] [--rows 1000000] [--threads 4] [--chunk-rows 100000]
 *                              [--pool-size 4] [--copy-path direct|files] [--timeline] [--json out.json] [--cpu-prof dir] [--keep]
 *                              [--no-build] [--skip-reference] [--timeout 480]      (--help lists them)
 *
 * One run: private Redis, upstream MariaDB (binlog on) and a target (MariaDB, or tidb-server with
 * --target tidb) on free ports in a temp dir; N rows in sbtest.sbtest1 upstream; a `task-mode:
 * full` dmq task (dmq serve as a child process) timed from submit to Finished and verified; then
 * mydumper and myloader (into the same target) timed on the same data and verified; then a report. Everything started is stopped, even on failure.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { qualify, quoteId } from '../src/shared/sql/quote.js';
import type { CopyPath } from '../src/shared/task/context.js';
import type { RedisServer, TargetKind } from '../test/harness/servers.js';
import { CpuReport, waitForQuiet, warnIfBusy } from './lib/cpu-report.js';
import {
  cli,
  createSource,
  DMQ,
  startDmq,
  taskFailure,
  taskStatus,
  withDmqLog,
  writeTask,
  type DmqProcess,
  type SubTaskStatus,
} from './lib/dmq-process.js';
import { int, log, MiB, mib, perSec, secs, table } from './lib/format.js';
import { integerOption, targetOption } from './lib/options.js';
import { ensureBuilt, ensureMydumper } from './lib/prerequisites.js';
import { CPU_COUNT, type ProcessSampler, readProcess } from './lib/proc-stats.js';
import { startOneTarget } from './lib/one-target.js';
import { benchDir, runBench } from './lib/processes.js';
import { SCHEMA, seed, TABLE, tableFacts, verify, type TableFacts } from './lib/sbtest.js';
import { queryOne, withConnection, type Server } from './lib/sql.js';
import { describeTarget, targetLabel } from './lib/target.js';
import { directorySize, myloaderArgs, mydumperArgs, runTool, type ToolResult } from './lib/tools.js';

const TASK = 'bench-full-copy';
const SOURCE_ID = 'bench-upstream';
/** dmq's default meta schema (DM's name); its tables carry per-chunk dump/load timestamps. */
const META_SCHEMA = 'dm_meta';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  target: TargetKind;
  rows: number;
  blobBytes: number;
  threads: number;
  chunkRows: number;
  poolSize: number;
  copyPath: CopyPath;
  timeoutSec: number;
  timeline: boolean;
  json?: string;
  cpuProf?: string;
  keep: boolean;
  build: boolean;
  reference: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'mariadb' },
      rows: { type: 'string', default: '1000000' },
      'blob-bytes': { type: 'string', default: '0' },
      threads: { type: 'string', default: '4' },
      'chunk-rows': { type: 'string', default: '100000' },
      'pool-size': { type: 'string', default: '4' },
      'copy-path': { type: 'string', default: 'direct' },
      timeout: { type: 'string', default: '480' },
      timeline: { type: 'boolean', default: false },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      keep: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'skip-reference': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      [
        'usage: npx tsx bench/full-copy.ts [options]',
        '  --target KIND       what dmq and myloader write into: mariadb or tidb (default mariadb)',
        '  --rows N            rows in sbtest.sbtest1 (default 1000000)',
        '  --blob-bytes N      also N bytes per row in a LONGBLOB column, for wide rows (default 0: none)',
        '  --threads N         dmq mydumpers.threads and mydumper -t (default 4)',
        '  --chunk-rows N      dmq mydumpers.rows and mydumper -r (default 100000)',
        '  --pool-size N       dmq loaders.pool-size and myloader -t (default 4)',
        "  --copy-path PATH    dmq's DMQ_COPY_PATH: direct (default: source to target, no files) or files",
        '  --timeout S         give up on the dmq task after S seconds (default 480)',
        '  --timeline          also print CPU per process, second by second',
        '  --json FILE         also write the results as JSON',
        '  --cpu-prof DIR      run dmq serve under node --cpu-prof, profile written to DIR',
        '  --keep              keep the temp dir (server logs, dmq.log, dumps)',
        '  --no-build          use dist/ as it is, even if src/ is newer',
        '  --skip-reference    run only dmq, not mydumper/myloader',
      ].join('\n'),
    );
    process.exit(0);
  }
  return {
    target: targetOption(values.target),
    rows: integerOption('rows', values.rows, 1),
    blobBytes: integerOption('blob-bytes', values['blob-bytes'], 0),
    threads: integerOption('threads', values.threads, 1),
    chunkRows: integerOption('chunk-rows', values['chunk-rows'], 1),
    poolSize: integerOption('pool-size', values['pool-size'], 1),
    copyPath: copyPathOption(values['copy-path']),
    timeoutSec: integerOption('timeout', values.timeout, 1),
    timeline: values.timeline,
    json: values.json,
    cpuProf: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    keep: values.keep,
    build: !values['no-build'],
    reference: !values['skip-reference'],
  };
}

/** `--copy-path`: dmq's DMQ_COPY_PATH. */
function copyPathOption(text: string | undefined): CopyPath {
  if (text === 'direct' || text === 'files') return text;
  throw new Error(`--copy-path must be direct or files, got ${JSON.stringify(text)}`);
}

// ---------------------------------------------------------------------------------------------
// SQL

async function dropCopies(target: Server): Promise<void> {
  await withConnection(target, async (conn) => {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(SCHEMA)}`);
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(META_SCHEMA)}`);
  });
}

// ---------------------------------------------------------------------------------------------
// dmq

/** When, seen by polling query-status, the task reached each step. */
interface StatusMarks {
  dumpUnit?: number;
  allDumped?: number;
  loadUnit?: number;
  finished?: number;
}

async function waitForFinished(dmq: DmqProcess, timeoutMs: number): Promise<{ marks: StatusMarks; last: SubTaskStatus }> {
  const marks: StatusMarks = {};
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  for (;;) {
    if (dmq.child.exitCode !== null) throw new Error(`dmq serve exited with ${dmq.child.exitCode} during the copy`);
    const status = await taskStatus(dmq.addr, TASK);
    const now = Date.now();
    const sub = status.sources?.[0]?.subTaskStatus[0];
    if (sub) {
      if (marks.dumpUnit === undefined && sub.unit !== 'Check') marks.dumpUnit = now;
      if (marks.allDumped === undefined && sub.dump.totalChunks > 0 && sub.dump.completedChunks === sub.dump.totalChunks)
        marks.allDumped = now;
      if (marks.loadUnit === undefined && sub.unit === 'Load') marks.loadUnit = now;
      if (status.stage === 'Finished') return { marks: { ...marks, finished: now }, last: sub };
      const failure = taskFailure(status, sub);
      if (failure) throw new Error(failure);
      if (now - lastReport >= 5000) {
        lastReport = now;
        log(
          `  ${sub.unit}: dumped ${sub.dump.completedChunks}/${sub.dump.totalChunks} chunks (${int(sub.dump.finishedRows)} rows), ` +
            `loaded ${sub.load.completedChunks} chunks (${int(sub.load.finishedRows)} rows)`,
        );
      }
    }
    if (now > deadline) {
      const last = sub ? { stage: sub.stage, unit: sub.unit, dump: sub.dump, load: sub.load } : status;
      throw new Error(`the dmq task did not finish in ${timeoutMs / 1000} s; last status: ${JSON.stringify(last)}`);
    }
    await sleep(200);
  }
}

/** Exact times from dmq's checkpoints on the target (written with NOW(3) by the target itself). */
interface MetaTimes {
  planned: number;
  firstDumped: number;
  lastDumped: number;
  lastLoaded: number;
  chunks: number;
  fileBytes: number;
}

async function readMetaTimes(target: Server): Promise<MetaTimes | undefined> {
  try {
    return await withConnection(target, async (conn) => {
      const source = await queryOne(
        conn,
        `SELECT UNIX_TIMESTAMP(planned_at) * 1000 AS planned FROM ${qualify(META_SCHEMA, `${TASK}_dump_meta`)} WHERE source_id = ?`,
        [SOURCE_ID],
      );
      const chunks = await queryOne(
        conn,
        `SELECT COUNT(*) AS n, SUM(file_bytes) AS bytes, UNIX_TIMESTAMP(MIN(dumped_at)) * 1000 AS first_dumped,
                UNIX_TIMESTAMP(MAX(dumped_at)) * 1000 AS last_dumped, UNIX_TIMESTAMP(MAX(loaded_at)) * 1000 AS last_loaded
         FROM ${qualify(META_SCHEMA, `${TASK}_loader_checkpoint`)} WHERE source_id = ?`,
        [SOURCE_ID],
      );
      return {
        planned: Number(source.planned),
        firstDumped: Number(chunks.first_dumped),
        lastDumped: Number(chunks.last_dumped),
        lastLoaded: Number(chunks.last_loaded),
        chunks: Number(chunks.n),
        fileBytes: Number(chunks.bytes),
      };
    });
  } catch (err) {
    log(`warning: cannot read dmq's checkpoint times (${(err as Error).message}); phases come from query-status polling only`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface Phase {
  name: string;
  from: number;
  to: number;
  /** Rows this phase moved, for rows/s; omitted for setup phases. */
  rows?: number;
  note?: string;
}

interface DmqResult {
  submitted: number;
  finished: number;
  phases: Phase[];
  peakRss: number;
  /** Resident set of the idle server just before the task was submitted. */
  idleRss: number;
  dumpBytes: number;
  chunks: number;
  verified: string;
}

interface ReferenceResult {
  mydumper: ToolResult;
  myloader: ToolResult;
  dumpBytes: number;
  verified: string;
}

async function runDmq(
  options: Options,
  dir: string,
  redis: RedisServer,
  upstream: Server,
  target: Server,
  expected: TableFacts,
  sampler: ProcessSampler,
): Promise<DmqResult> {
  const dmq = await startDmq(dir, redis, sampler, { cpuProf: options.cpuProf, env: { DMQ_COPY_PATH: options.copyPath } });
  await createSource(dmq, dir, SOURCE_ID, upstream);
  const taskYaml = await writeTask(dir, {
    name: TASK,
    mode: 'full',
    target,
    sourceId: SOURCE_ID,
    schema: SCHEMA,
    instance: ['mydumper-config-name: "bench"', 'loader-config-name: "bench"'],
    sections: `mydumpers:
  bench:
    threads: ${options.threads}
    rows: ${options.chunkRows}
loaders:
  bench:
    pool-size: ${options.poolSize}
`,
  });

  log(
    `dmq start-task (task-mode full, DMQ_COPY_PATH ${options.copyPath}, mydumpers threads ${options.threads} rows ${options.chunkRows}, loaders pool-size ${options.poolSize})`,
  );
  const idleRss = readProcess(dmq.pid)?.rssBytes ?? 0;
  const submitted = sampler.sampleNow();
  await cli(dmq, ['start-task', taskYaml]);
  const { marks } = await withDmqLog(dmq, () => waitForFinished(dmq, options.timeoutSec * 1000));
  const finished = sampler.sampleNow();
  const peakRss = sampler.peakRss(DMQ);
  log(`dmq task Finished after ${secs(finished - submitted)}`);
  await dmq.stop();

  const verified = verify('dmq', expected, await tableFacts(target));
  log(`dmq copy verified: ${verified}`);

  const meta = await readMetaTimes(target);
  const rows = expected.rows;
  const phases: Phase[] = [{ name: 'dmq total (submit → Finished)', from: submitted, to: finished, rows }];
  if (meta && options.copyPath === 'direct') {
    // Each chunk is read and written at once, so its dump and load marks are one moment.
    phases.push(
      { name: '  precheck + plan', from: submitted, to: meta.planned, note: 'submit → plan recorded' },
      { name: '  copy', from: meta.planned, to: meta.lastLoaded, rows, note: 'plan → last chunk copied (read and written at once)' },
      { name: '  until Finished', from: meta.lastLoaded, to: finished, note: 'last chunk copied → stage Finished seen' },
    );
  } else if (meta) {
    phases.push(
      { name: '  precheck + plan', from: submitted, to: meta.planned, note: 'submit → plan recorded' },
      { name: '  dump', from: meta.planned, to: meta.lastDumped, rows, note: 'plan → last chunk dumped; loads run alongside' },
      { name: '  load', from: meta.firstDumped, to: meta.lastLoaded, rows, note: 'first chunk dumped → last chunk loaded' },
      { name: '  load after dump', from: meta.lastDumped, to: meta.lastLoaded, note: 'last chunk dumped → last chunk loaded' },
      { name: '  until Finished', from: meta.lastLoaded, to: finished, note: 'last chunk loaded → stage Finished seen' },
    );
  } else {
    if (marks.dumpUnit !== undefined) phases.push({ name: '  precheck + plan', from: submitted, to: marks.dumpUnit });
    if (marks.dumpUnit !== undefined && marks.allDumped !== undefined) {
      phases.push({ name: '  dump', from: marks.dumpUnit, to: marks.allDumped, rows, note: 'loads run alongside' });
      phases.push({ name: '  load after dump', from: marks.allDumped, to: finished });
    }
  }
  return { submitted, finished, phases, peakRss, idleRss, dumpBytes: meta?.fileBytes ?? 0, chunks: meta?.chunks ?? 0, verified };
}

async function runReference(
  options: Options,
  dir: string,
  upstream: Server,
  target: Server,
  expected: TableFacts,
  sampler: ProcessSampler,
): Promise<ReferenceResult> {
  const out = join(dir, 'mydumper-out');
  const mydumper = await runTool(
    'mydumper',
    mydumperArgs(upstream, SCHEMA, options.threads, options.chunkRows, out),
    join(dir, 'mydumper.log'),
    sampler,
  );
  const dumpBytes = await directorySize(out);
  const myloader = await runTool('myloader', myloaderArgs(target, options.poolSize, out), join(dir, 'myloader.log'), sampler);
  const verified = verify('myloader', expected, await tableFacts(target));
  log(`myloader copy verified: ${verified}`);
  return { mydumper, myloader, dumpBytes, verified };
}

// ---------------------------------------------------------------------------------------------
// Report

const processLabels = (target: TargetKind) => ['dmq', 'mydumper', 'myloader', 'upstream mariadbd', targetLabel(target), 'redis', 'bench'];

function report(
  options: Options,
  targetVersion: string,
  facts: TableFacts,
  dmq: DmqResult,
  reference: ReferenceResult | undefined,
  sampler: ProcessSampler,
): string {
  const lines: string[] = [];
  const rows = facts.rows;
  lines.push('');
  lines.push(`=== dmq full-copy benchmark into ${options.target} ${targetVersion}: ${SCHEMA}.${TABLE}, ${int(rows)} rows ===`);
  lines.push(`target: ${describeTarget(options.target, targetVersion)}; dmq and myloader both write into it`);
  lines.push(
    `table: data_length ${mib(facts.dataLength)}, index_length ${mib(facts.indexLength)} (upstream, after ANALYZE); ` +
      `${CPU_COUNT} CPUs; upstream MariaDB with innodb_buffer_pool_size 128M`,
  );
  lines.push(
    `settings: dmq DMQ_COPY_PATH ${options.copyPath}, mydumpers threads ${options.threads} rows ${options.chunkRows}, loaders pool-size ${options.poolSize} | ` +
      `mydumper -t ${options.threads} -r ${options.chunkRows} | myloader -t ${options.poolSize}`,
  );
  lines.push("rates: rows/s and MiB/s of data_length over the phase's wall time");
  lines.push('');

  const timing: string[][] = [['phase', 'wall', 'rows/s', 'MiB/s', 'peak RSS', 'note']];
  const add = (name: string, ms: number, phaseRows: number | undefined, rss: string, note = '') =>
    timing.push([
      name,
      secs(ms),
      phaseRows === undefined ? '' : int(perSec(phaseRows, ms)),
      phaseRows === undefined ? '' : (perSec(facts.dataLength, ms) / MiB).toFixed(1),
      rss,
      note,
    ]);
  for (const [i, p] of dmq.phases.entries()) {
    add(
      p.name,
      p.to - p.from,
      p.rows,
      i === 0 ? mib(dmq.peakRss) : '',
      i === 0 ? `RSS ${mib(dmq.idleRss)} when idle before submit` : (p.note ?? ''),
    );
  }
  if (reference) {
    const { mydumper, myloader } = reference;
    const total = myloader.to - mydumper.from;
    add('mydumper + myloader', total, rows, '', 'mydumper start → myloader exit');
    add('  mydumper', mydumper.to - mydumper.from, rows, mib(mydumper.peakRss), `${mib(reference.dumpBytes)} of files`);
    add('  myloader', myloader.to - myloader.from, rows, mib(myloader.peakRss));
  }
  lines.push(table(timing, true));
  lines.push('');
  lines.push(
    options.copyPath === 'direct'
      ? `dmq direct copy: ${dmq.chunks} chunks, ${mib(dmq.dumpBytes)} of rows as SQL text, no files`
      : `dmq chunk files: ${dmq.chunks} chunks, ${mib(dmq.dumpBytes)}`,
  );
  lines.push(`verified: dmq ${dmq.verified}${reference ? `; myloader ${reference.verified}` : ''}`);

  if (reference) {
    const dmqMs = dmq.finished - dmq.submitted;
    const refMs = reference.myloader.to - reference.mydumper.from;
    lines.push('');
    lines.push(`ratio dmq / (mydumper + myloader): ${(dmqMs / refMs).toFixed(2)}x  (${secs(dmqMs)} vs ${secs(refMs)})`);
    const dump = dmq.phases.find((p) => p.name.trim() === 'dump');
    const load = dmq.phases.find((p) => p.name.trim() === 'load');
    if (dump) {
      const ms = reference.mydumper.to - reference.mydumper.from;
      lines.push(
        `  dump: dmq ${secs(dump.to - dump.from)} vs mydumper ${secs(ms)} → ${((dump.to - dump.from) / ms).toFixed(2)}x (dmq loads at the same time)`,
      );
    }
    const copy = dmq.phases.find((p) => p.name.trim() === 'copy');
    if (copy) {
      const ms = reference.myloader.to - reference.mydumper.from;
      lines.push(
        `  copy: dmq ${secs(copy.to - copy.from)} vs mydumper + myloader ${secs(ms)} → ${((copy.to - copy.from) / ms).toFixed(2)}x (dmq reads and writes each chunk at once)`,
      );
    }
    if (load) {
      const ms = reference.myloader.to - reference.myloader.from;
      lines.push(
        `  load: dmq ${secs(load.to - load.from)} vs myloader ${secs(ms)} → ${((load.to - load.from) / ms).toFixed(2)}x (dmq's window overlaps its dump)`,
      );
    }
  }

  const cpu = new CpuReport(sampler, processLabels(options.target));
  const referenceRun = reference && { name: 'mydumper + myloader', from: reference.mydumper.from, to: reference.myloader.to };
  lines.push('');
  lines.push(
    cpu.phases([
      ...dmq.phases,
      ...(reference ? [referenceRun!, { ...reference.mydumper, name: '  mydumper' }, { ...reference.myloader, name: '  myloader' }] : []),
    ]),
  );

  const runs = [{ name: 'dmq (submit → Finished)', from: dmq.submitted, to: dmq.finished }, ...(referenceRun ? [referenceRun] : [])];
  lines.push('');
  lines.push(cpu.costs(runs));
  lines.push(...cpu.disturbances([...dmq.phases.filter((p) => !p.name.startsWith(' ')), ...(referenceRun ? [referenceRun] : [])]));

  if (options.timeline) {
    lines.push('');
    lines.push(cpu.timeline(dmq.submitted, reference ? reference.myloader.to : dmq.finished, 'dmq submit'));
  }
  return lines.join('\n');
}

function resultJson(
  options: Options,
  targetVersion: string,
  facts: TableFacts,
  dmq: DmqResult,
  reference: ReferenceResult | undefined,
  sampler: ProcessSampler,
) {
  const cpu = (from: number, to: number) =>
    Object.fromEntries(processLabels(options.target).map((l) => [l, Number(sampler.usage(l, from, to).cores.toFixed(3))]));
  const phase = (name: string, from: number, to: number) => ({ name: name.trim(), seconds: (to - from) / 1000, cpuCores: cpu(from, to) });
  return {
    options,
    target: { kind: options.target, version: targetVersion },
    table: { rows: facts.rows, dataLength: facts.dataLength, indexLength: facts.indexLength },
    dmq: {
      seconds: (dmq.finished - dmq.submitted) / 1000,
      rowsPerSecond: perSec(facts.rows, dmq.finished - dmq.submitted),
      peakRssBytes: dmq.peakRss,
      idleRssBytes: dmq.idleRss,
      chunkFileBytes: dmq.dumpBytes,
      phases: dmq.phases.map((p) => phase(p.name, p.from, p.to)),
    },
    reference: reference && {
      seconds: (reference.myloader.to - reference.mydumper.from) / 1000,
      mydumper: {
        ...phase('mydumper', reference.mydumper.from, reference.mydumper.to),
        peakRssBytes: reference.mydumper.peakRss,
        fileBytes: reference.dumpBytes,
      },
      myloader: { ...phase('myloader', reference.myloader.from, reference.myloader.to), peakRssBytes: reference.myloader.peakRss },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const options = parseOptions();
  ensureMydumper();
  ensureBuilt(options.build);

  const dir = await benchDir(options.keep);
  const { redis, upstream, target, targetProcess, targetVersion, sampler } = await startOneTarget(dir, options.target);

  const facts = await seed(upstream, options.rows, options.blobBytes);
  await waitForQuiet(sampler, ['upstream mariadbd', targetProcess]);
  warnIfBusy(sampler);

  const dmq = await runDmq(options, dir, redis, upstream, target, facts, sampler);

  let reference: ReferenceResult | undefined;
  if (options.reference) {
    await dropCopies(target);
    await waitForQuiet(sampler, ['upstream mariadbd', targetProcess]);
    warnIfBusy(sampler);
    reference = await runReference(options, dir, upstream, target, facts, sampler);
  }
  sampler.stop();

  console.log(report(options, targetVersion, facts, dmq, reference, sampler));
  if (options.json) {
    await writeFile(options.json, `${JSON.stringify(resultJson(options, targetVersion, facts, dmq, reference, sampler), null, 2)}\n`);
    log(`results written to ${options.json}`);
  }
}

await runBench(main);
