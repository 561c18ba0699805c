/**
 * Starts one stack for the whole suite, runs the test files one at a time against it (they
 * share its servers, so they must not overlap), stops it, and exits with the runner's code.
 * Usage: node --import tsx test/harness/launch.ts [test files or dirs...]  (default: test/)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startStack, stackInfo } from './servers.js';

/** Node 20's runner finds only .js test files in a directory, so directories are expanded here. */
function testFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => join(path, file))
    .sort();
}

const args = process.argv.length > 2 ? process.argv.slice(2) : ['test'];
const files = args.flatMap(testFiles);
if (files.length === 0) {
  console.error(`no *.test.ts files in ${args.join(' ')}`);
  process.exit(1);
}

// Unit tests talk to no server: a run of only those starts none.
const needsServers = files.some((file) => !file.split(/[\\/]/).includes('unit'));
if (!needsServers) {
  const unit = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
  const [unitCode] = (await once(unit, 'exit')) as [number | null];
  process.exit(unitCode ?? 1);
}

const startedAt = Date.now();
const stack = await startStack();
const info = stackInfo(stack);
const stackFile = join(stack.dir, 'stack.json');
await writeFile(stackFile, JSON.stringify(info, null, 2));
console.log(
  `test stack up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: redis ${info.redis.port}, ` +
    `upstreams ${info.upstreams.map((u) => u.port).join(', ')}, ${info.targetKind} target ${info.target.port} (${stack.dir})`,
);

const runner = spawn(
  process.execPath,
  // --test-force-exit: a test that leaks a connection or timer must not hang the whole run.
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, DMQ_TEST_STACK: stackFile } },
);
// The runner would outlive a launcher ended by a signal and test against servers already gone.
process.on('exit', () => runner.kill());
const [code, signal] = (await once(runner, 'exit')) as [number | null, NodeJS.Signals | null];
await stack.stop();
process.exit(code ?? (signal ? 1 : 0));
