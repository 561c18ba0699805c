import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startMariadb, type MariadbServer } from './mariadb.js';
import { removeNow, removeOnExit } from './proc.js';
import { startRedis, type RedisServer } from './redis.js';
import { startTidb, type TidbServer } from './tidb.js';

export { startMariadb, type MariadbServer } from './mariadb.js';
export { startRedis, type RedisServer } from './redis.js';

/** What the migrations in a test run write into: MariaDB (any MySQL-compatible target) or TiDB. */
export type TargetKind = 'mariadb' | 'tidb';

/** The target kind of this run: DMQ_TEST_TARGET, MariaDB unless it says tidb. */
export function targetKindFromEnv(): TargetKind {
  const kind = process.env.DMQ_TEST_TARGET ?? 'mariadb';
  if (kind !== 'mariadb' && kind !== 'tidb') throw new Error(`DMQ_TEST_TARGET=${kind}: expected mariadb or tidb`);
  return kind;
}

/** Schemas a server has of its own, lower-cased: TiDB adds metrics_schema and names some in upper case. */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys', 'metrics_schema'];

/** The examples' source.yaml files carry this password, DM-encrypted. */
export const UPSTREAM_PASSWORD = '123456';

export interface MariadbMember {
  /** Also the member's directory inside the stack dir. */
  name: string;
  serverId: number;
  binlog: boolean;
  rootPassword: string;
}

export const UPSTREAMS: readonly [MariadbMember, MariadbMember] = [
  { name: 'upstream-1', serverId: 1, binlog: true, rootPassword: UPSTREAM_PASSWORD },
  { name: 'upstream-2', serverId: 2, binlog: true, rootPassword: UPSTREAM_PASSWORD },
];
export const TARGET: MariadbMember = { name: 'target', serverId: 3, binlog: false, rootPassword: '' };
export const REDIS_DIR = 'redis';

interface StackPorts {
  redis: number;
  upstreams: [number, number];
  target: number;
}

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

/**
 * What tests need of a running stack, as plain JSON (the file DMQ_TEST_STACK names holds it).
 * Endpoints hold exactly what mysql2 and DM's `from` take, so they can be passed on as they are.
 */
export interface StackInfo {
  dir: string;
  redis: { port: number; url: string };
  upstreams: [Endpoint, Endpoint];
  target: Endpoint;
  targetKind: TargetKind;
}

/** A running target server of either kind. */
export interface TargetServer extends Endpoint {
  pid: number;
  stop(): Promise<void>;
}

export interface Stack {
  dir: string;
  redis: RedisServer;
  upstreams: [MariadbServer, MariadbServer];
  target: TargetServer;
  targetKind: TargetKind;
  /** Variables for a dmq process that should use this stack. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

interface StackOptions {
  /** Kept after stop; without it the stack lives in a temp dir removed on stop or exit. */
  dir?: string;
  fixedPorts?: StackPorts;
  /** Default: DMQ_TEST_TARGET (see targetKindFromEnv). */
  targetKind?: TargetKind;
}

export function startMember(stackDir: string, member: MariadbMember, port?: number, daemon = false) {
  return startMariadb({ ...member, dir: join(stackDir, member.name), port, daemon });
}

/**
 * A free port is free only until something binds it: another server starting on this machine at
 * the same moment (two stacks, a fault test's own servers) may take it first. Such a start is
 * tried again on a new port.
 */
async function retryOnTakenPort<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= 3 || !/address already in use|EADDRINUSE|errno: 98/i.test((err as Error).message)) throw err;
    }
  }
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const temp = options.dir === undefined;
  const dir = options.dir === undefined ? await mkdtemp(join(tmpdir(), 'dmq-stack-')) : resolve(options.dir);
  if (temp) removeOnExit(dir);
  const ports = options.fixedPorts;
  const targetKind = options.targetKind ?? targetKindFromEnv();
  const retry = ports === undefined ? retryOnTakenPort : <T>(start: () => Promise<T>) => start();
  const started = await Promise.allSettled([
    retry(() => startRedis({ dir: join(dir, REDIS_DIR), port: ports?.redis })),
    retry(() => startMember(dir, UPSTREAMS[0], ports?.upstreams[0])),
    retry(() => startMember(dir, UPSTREAMS[1], ports?.upstreams[1])),
    retry<MariadbServer | TidbServer>(() =>
      targetKind === 'tidb' ? startTidb({ dir: join(dir, TARGET.name), port: ports?.target }) : startMember(dir, TARGET, ports?.target),
    ),
  ]);
  const [redis, upstream1, upstream2, target] = started;
  if (redis.status === 'rejected' || upstream1.status === 'rejected' || upstream2.status === 'rejected' || target.status === 'rejected') {
    await Promise.all(started.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)));
    if (temp) await removeNow(dir);
    const reasons = started.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
    throw new Error(`test stack in ${dir} did not start:\n${reasons.join('\n')}`);
  }
  const servers = [redis.value, upstream1.value, upstream2.value, target.value];
  return {
    dir,
    redis: redis.value,
    upstreams: [upstream1.value, upstream2.value],
    target: target.value,
    targetKind,
    env: { REDIS_URL: redis.value.url },
    async stop() {
      await Promise.all(servers.map((server) => server.stop()));
      if (temp) await removeNow(dir);
    },
  };
}

export function stackInfo(stack: Stack): StackInfo {
  const endpoint = ({ host, port, user, password }: Endpoint): Endpoint => ({ host, port, user, password });
  return {
    dir: stack.dir,
    redis: { port: stack.redis.port, url: stack.redis.url },
    upstreams: [endpoint(stack.upstreams[0]), endpoint(stack.upstreams[1])],
    target: endpoint(stack.target),
    targetKind: stack.targetKind,
  };
}
