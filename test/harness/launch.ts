/**
 * Starts the test stacks, runs the test files against them, stops them, and exits non-zero if
 * any file failed. Files that share a stack share its servers, so they never overlap: with
 * `--stacks N`, N stacks run N files at a time, each file on a stack of its own while it runs.
 * Usage: node --import tsx test/harness/launch.ts [--stacks N] [test files or dirs...]  (default: test/)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { recordDurations, longestFirst } from './durations.js';
import { startStack, stackInfo, type Stack } from './servers.js';

/** Node 20's runner finds only .js test files in a directory, so directories are expanded here. */
function testFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => join(path, file))
    .sort();
}

const { values, positionals } = parseArgs({ options: { stacks: { type: 'string', default: '1' } }, allowPositionals: true });
const stackCount = Number(values.stacks);
if (!Number.isInteger(stackCount) || stackCount < 1 || stackCount > 4) {
  console.error(`--stacks must be a whole number from 1 to 4, not "${values.stacks}"`);
  process.exit(2);
}
const args = positionals.length > 0 ? positionals : ['test'];
const files = args.flatMap(testFiles);
if (files.length === 0) {
  console.error(`no *.test.ts files in ${args.join(' ')}`);
  process.exit(1);
}

// --test-force-exit: a test that leaks a connection or timer must not hang the whole run.
const runnerArgs = ['--import', 'tsx', '--test', '--test-force-exit', '--test-reporter=spec'];

// Unit tests talk to no server: a run of only those starts none.
const needsServers = files.some((file) => !file.split(/[\\/]/).includes('unit'));
if (!needsServers) {
  const unit = spawn(process.execPath, [...runnerArgs, ...files], { stdio: 'inherit' });
  const [unitCode] = (await once(unit, 'exit')) as [number | null];
  process.exit(unitCode ?? 1);
}

const startedAt = Date.now();
const stacks: Stack[] = [];
const running = new Set<ReturnType<typeof spawn>>();
// A runner would outlive a launcher ended by a signal and test against servers already gone.
process.on('exit', () => {
  for (const child of running) child.kill();
});
const started = await Promise.allSettled(Array.from({ length: stackCount }, () => startStack()));
for (const result of started) if (result.status === 'fulfilled') stacks.push(result.value);
const failedStart = started.find((result) => result.status === 'rejected');
if (failedStart) {
  console.error(String(failedStart.reason));
  await Promise.all(stacks.map((stack) => stack.stop()));
  process.exit(1);
}
const stackFiles = await Promise.all(
  stacks.map(async (stack) => {
    const info = stackInfo(stack);
    const file = join(stack.dir, 'stack.json');
    await writeFile(file, JSON.stringify(info, null, 2));
    console.log(
      `test stack up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: redis ${info.redis.port}, ` +
        `upstreams ${info.upstreams.map((u) => u.port).join(', ')}, ${info.targetKind} target ${info.target.port} (${stack.dir})`,
    );
    return file;
  }),
);

const targetKind = stacks[0]!.targetKind;
// The longest files first, so the last to finish is a short one.
const queue = await longestFirst(files, targetKind);
const results: { file: string; seconds: number; code: number }[] = [];

/** Runs one file against one stack; with one stack its output streams, otherwise it comes whole when the file ends. */
async function runFile(file: string, stackFile: string): Promise<void> {
  const fileStart = Date.now();
  const child = spawn(process.execPath, [...runnerArgs, file], {
    stdio: stackCount === 1 ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DMQ_TEST_STACK: stackFile },
  });
  running.add(child);
  const output: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  running.delete(child);
  const seconds = (Date.now() - fileStart) / 1000;
  if (output.length > 0) process.stdout.write(Buffer.concat(output));
  results.push({ file, seconds, code: code ?? (signal ? 1 : 0) });
}

await Promise.all(
  stackFiles.map(async (stackFile) => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) await runFile(file, stackFile);
  }),
);
await Promise.all(stacks.map((stack) => stack.stop()));
await recordDurations(results, targetKind);

const failed = results.filter((r) => r.code !== 0);
console.log(`\ntest files (${targetKind} target, ${stackCount} stack${stackCount > 1 ? 's' : ''}), slowest first:`);
for (const r of [...results].sort((a, b) => b.seconds - a.seconds)) {
  console.log(`  ${r.code === 0 ? 'pass' : 'FAIL'}  ${r.seconds.toFixed(1).padStart(6)} s  ${r.file}`);
}
console.log(`${results.length - failed.length} of ${results.length} files passed in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
process.exit(failed.length > 0 ? 1 : 0);
