/**
 * The demo's Redis, two upstreams and target as daemons that outlive this script.
 *
 *   npx tsx scripts/local-servers.ts start|stop|status [--dir .dmq-demo] [--target mariadb|tidb]
 *     [--redis-port 6380] [--upstream-ports 3307,3308] [--target-port 4000]
 *
 * The target is MariaDB or tidb-server with its embedded store (DMQ_TIDB_SERVER, else the one
 * scripts/build-tidb.sh builds). Data stays in --dir across stop and start, each target kind's
 * apart; `start` replaces a target of the other kind that runs from --dir. `start` also writes
 * <dir>/stack.json, which DMQ_TEST_STACK accepts. `stop` and `status` act on whichever target
 * runs; `status` exits 1 unless all four servers run.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mariadbFiles } from '../test/harness/mariadb.js';
import { HOST, portInUse } from '../test/harness/ports.js';
import { commandLine, isAlive, readPidFile, terminate } from '../test/harness/proc.js';
import { redisFiles } from '../test/harness/redis.js';
import {
  REDIS_DIR,
  startMember,
  startRedis,
  TARGET,
  UPSTREAMS,
  type Endpoint,
  type MariadbMember,
  type StackInfo,
  type TargetKind,
} from '../test/harness/servers.js';
import { startTidb, tidbFiles } from '../test/harness/tidb.js';

interface Member {
  /** For messages. */
  name: string;
  binary: 'redis-server' | 'mariadbd' | 'tidb-server';
  port: number;
  /** The option that sets this member's port, for messages. */
  portOption: string;
  pidFile: string;
  start(): Promise<unknown>;
}

function usage(message: string): never {
  console.error(
    `${message}\nusage: npx tsx scripts/local-servers.ts start|stop|status [--dir .dmq-demo] [--target mariadb|tidb] ` +
      '[--redis-port 6380] [--upstream-ports 3307,3308] [--target-port 4000]',
  );
  process.exit(2);
}

function parsePort(text: string, option: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) usage(`--${option}: ${JSON.stringify(text)} is not a port`);
  return port;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string', default: '.dmq-demo' },
    target: { type: 'string', default: 'mariadb' },
    'redis-port': { type: 'string', default: '6380' },
    'upstream-ports': { type: 'string', default: '3307,3308' },
    'target-port': { type: 'string', default: '4000' },
  },
});
const command = positionals[0];
if (positionals.length !== 1 || !['start', 'stop', 'status'].includes(command ?? '')) usage('expected one command');
const dir = resolve(values.dir);
const upstreamPorts = values['upstream-ports'].split(',').map((text) => parsePort(text.trim(), 'upstream-ports'));
if (upstreamPorts.length !== UPSTREAMS.length) usage(`--upstream-ports: expected ${UPSTREAMS.length} ports`);
const redisPort = parsePort(values['redis-port'], 'redis-port');
const targetPort = parsePort(values['target-port'], 'target-port');
if (values.target !== 'mariadb' && values.target !== 'tidb') usage(`--target: ${JSON.stringify(values.target)} is not mariadb or tidb`);
const targetKind: TargetKind = values.target;

function mariadbMember(member: MariadbMember, port: number, portOption: string): Member {
  return {
    name: member.name,
    binary: 'mariadbd',
    port,
    portOption,
    pidFile: mariadbFiles(join(dir, member.name)).pidFile,
    start: () => startMember(dir, member, port, true),
  };
}

const servers: Member[] = [
  {
    name: 'redis',
    binary: 'redis-server',
    port: redisPort,
    portOption: 'redis-port',
    pidFile: redisFiles(join(dir, REDIS_DIR)).pidFile,
    start: () => startRedis({ dir: join(dir, REDIS_DIR), port: redisPort, daemon: true }),
  },
  ...UPSTREAMS.map((member, i) => mariadbMember(member, upstreamPorts[i] as number, 'upstream-ports')),
];

const targets: Record<TargetKind, Member> = {
  mariadb: { ...mariadbMember(TARGET, targetPort, 'target-port'), name: `${TARGET.name} (mariadb)` },
  tidb: {
    name: `${TARGET.name} (tidb)`,
    binary: 'tidb-server',
    port: targetPort,
    portOption: 'target-port',
    pidFile: tidbFiles(join(dir, TARGET.name)).pidFile,
    start: () => startTidb({ dir: join(dir, TARGET.name), port: targetPort, daemon: true }),
  },
};

/** A pid file can outlive its server and its pid be reused, so the process must be that server. */
async function runningPid(member: Member): Promise<number | undefined> {
  const pid = await readPidFile(member.pidFile);
  return pid !== undefined && isAlive(pid) && commandLine(pid).includes(member.binary) ? pid : undefined;
}

/** redis-server retitles itself `redis-server 127.0.0.1:PORT`; the others keep their arguments. */
const PORT_IN_COMMAND_LINE: Record<Member['binary'], RegExp> = {
  'redis-server': /:(\d+)/,
  mariadbd: /--port=(\d+)/,
  'tidb-server': / -P (\d+)/,
};

function portOf(member: Member, pid: number): number | undefined {
  const match = PORT_IN_COMMAND_LINE[member.binary].exec(commandLine(pid));
  return match ? Number(match[1]) : undefined;
}

/** The target that runs from this dir, else the --target kind's (to report as not running). */
async function currentTargets(): Promise<Member[]> {
  const running: Member[] = [];
  for (const target of Object.values(targets)) if ((await runningPid(target)) !== undefined) running.push(target);
  return running.length > 0 ? running : [targets[targetKind]];
}

async function stopMember(member: Member, why = ''): Promise<void> {
  const pid = await runningPid(member);
  if (pid === undefined) {
    console.log(`${member.name}: not running`);
    return;
  }
  await terminate(pid, () => !isAlive(pid));
  console.log(`${member.name}: stopped (pid ${pid})${why}`);
}

async function start(): Promise<number> {
  const target = targets[targetKind];
  // Switching kinds keeps the target port and dir, so the other kind has to go first.
  for (const other of await currentTargets()) {
    if (other !== target) await stopMember(other, `, to start ${target.name} in its place`);
  }
  const members = [...servers, target];
  const problems: string[] = [];
  const toStart: Member[] = [];
  for (const member of members) {
    const pid = await runningPid(member);
    if (pid === undefined) {
      if (await portInUse(member.port)) {
        problems.push(`port ${member.port} (${member.name}) is taken by another process: free it or pass another --${member.portOption}`);
      } else {
        toStart.push(member);
      }
    } else if (portOf(member, pid) === member.port) {
      console.log(`${member.name}: already running on ${HOST}:${member.port} (pid ${pid})`);
    } else {
      problems.push(
        `${member.name} from ${dir} already runs on port ${portOf(member, pid)} (pid ${pid}), not ${member.port}: run stop first`,
      );
    }
  }
  if (problems.length > 0) {
    for (const problem of problems) console.error(problem);
    return 1;
  }
  const started = await Promise.allSettled(toStart.map((member) => member.start()));
  const failed = started.flatMap((result, i) => (result.status === 'rejected' ? [`${toStart[i]?.name}: ${String(result.reason)}`] : []));
  if (failed.length > 0) {
    for (const failure of failed) console.error(failure);
    console.error(`run "npx tsx scripts/local-servers.ts stop --dir ${values.dir}" to stop the servers that did start`);
    return 1;
  }
  for (const member of toStart) console.log(`${member.name}: started on ${HOST}:${member.port}`);
  await writeFile(join(dir, 'stack.json'), JSON.stringify(stackInfo(), null, 2));
  console.log(`servers of ${dir} are up; logs and data are in that directory`);
  return 0;
}

function stackInfo(): StackInfo {
  const endpoint = (member: MariadbMember, port: number): Endpoint => ({
    host: HOST,
    port,
    user: 'root',
    password: member.rootPassword,
  });
  return {
    dir,
    redis: { port: redisPort, url: `redis://${HOST}:${redisPort}` },
    upstreams: [endpoint(UPSTREAMS[0], upstreamPorts[0] as number), endpoint(UPSTREAMS[1], upstreamPorts[1] as number)],
    target: endpoint(TARGET, targetPort),
    targetKind,
  };
}

async function stop(): Promise<number> {
  await Promise.all([...servers, ...(await currentTargets())].map((member) => stopMember(member)));
  return 0;
}

async function status(): Promise<number> {
  const members = [...servers, ...(await currentTargets())];
  let running = 0;
  for (const member of members) {
    const pid = await runningPid(member);
    if (pid === undefined) {
      console.log(`${member.name}: not running`);
    } else {
      running += 1;
      console.log(`${member.name}: running on ${HOST}:${portOf(member, pid)} (pid ${pid})`);
    }
  }
  return running === members.length ? 0 : 1;
}

const run = { start, stop, status }[command as 'start' | 'stop' | 'status'];
process.exitCode = await run();
