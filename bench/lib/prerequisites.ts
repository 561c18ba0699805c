/** What a benchmark needs before it starts: the reference tools installed and dist/ built from src/. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { log } from './format.js';

const ROOT = resolve(import.meta.dirname, '../..');

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function run(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, cwd: ROOT });
  if (result.status !== 0) throw new Error(`${what} failed (${command} ${args.join(' ')} exited with ${result.status ?? result.signal})`);
}

export function ensureMydumper(): void {
  if (hasCommand('mydumper') && hasCommand('myloader')) return;
  if (process.getuid?.() !== 0) throw new Error('mydumper/myloader are not installed: run `sudo apt-get install -y mydumper`');
  log('mydumper/myloader missing: apt-get install -y mydumper');
  try {
    run('apt-get', ['install', '-y', 'mydumper'], 'apt-get install mydumper');
  } catch {
    run('apt-get', ['update'], 'apt-get update');
    run('apt-get', ['install', '-y', 'mydumper'], 'apt-get install mydumper');
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** bin/dmq.js runs dist/: rebuild it when src/ changed since, so the numbers are of this code. */
export function ensureBuilt(build: boolean): void {
  const built = join(ROOT, 'dist/cli/main.js');
  const stale = !existsSync(built) || statSync(built).mtimeMs < newestMtime(join(ROOT, 'src'));
  if (!stale) return;
  if (!build) {
    if (!existsSync(built)) throw new Error('dist/ is missing: run `npm run build` (or drop --no-build)');
    log('warning: src/ is newer than dist/ and --no-build was given; measuring the old build');
    return;
  }
  log('dist/ is missing or older than src/: npm run build');
  run('npm', ['run', 'build', '--silent'], 'npm run build');
}
