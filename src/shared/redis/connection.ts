import { Redis, type RedisOptions } from 'ioredis';
import { DmqError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactUrl, type Settings } from '../settings.js';

/**
 * How this process reaches Redis: the options of its main client. Every other connection
 * (BullMQ's blocking ones, event readers) is a `duplicate()` of that client, so with Sentinel
 * each of them asks the sentinels for the master too, and again after a failover.
 */
export function redisOptions(settings: Settings): { url?: string; options: RedisOptions; describe: string } {
  const common: RedisOptions = {
    // BullMQ workers need commands to wait out a Redis restart rather than fail after N retries.
    maxRetriesPerRequest: null,
    lazyConnect: true,
    // A master demoted by a failover refuses writes; reconnecting (through the sentinels) reaches
    // the new master, and 2 resends the refused command there.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
  if (settings.DMQ_REDIS_SENTINELS.length === 0) {
    return { url: settings.REDIS_URL, options: common, describe: redactUrl(settings.REDIS_URL) };
  }
  const auth = credentials(settings.REDIS_URL);
  const sentinels = settings.DMQ_REDIS_SENTINELS;
  return {
    options: {
      ...common,
      ...auth,
      sentinels,
      name: settings.DMQ_REDIS_MASTER_NAME!,
      ...(settings.DMQ_REDIS_SENTINEL_PASSWORD ? { sentinelPassword: settings.DMQ_REDIS_SENTINEL_PASSWORD } : {}),
      // Told by the sentinels of a failover at once, rather than when the old master's socket fails.
      failoverDetector: true,
    },
    describe: `master "${settings.DMQ_REDIS_MASTER_NAME}" via sentinels ${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`,
  };
}

/** With Sentinel the URL names no host, but may still carry the master's user, password and database. */
function credentials(url: string): Pick<RedisOptions, 'username' | 'password' | 'db'> {
  try {
    const u = new URL(url);
    const db = Number(u.pathname.slice(1) || '0');
    return {
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      ...(Number.isInteger(db) ? { db } : {}),
    };
  } catch {
    return {};
  }
}

export function createRedis(settings: Settings): { client: Redis; describe: string } {
  const { url, options, describe } = redisOptions(settings);
  return { client: url === undefined ? new Redis(options) : new Redis(url, options), describe };
}

/** Connects the main client, or explains what REDIS_URL (or the sentinels) failed to give. */
export async function connectRedis(client: Redis, describe: string): Promise<void> {
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new DmqError('REDIS_UNAVAILABLE', `cannot reach Redis at ${describe}: ${(err as Error).message}`, {
      cause: err,
      where: 'REDIS_URL',
      workaround:
        'start Redis or point REDIS_URL at it (redis://host:port); with Sentinel check DMQ_REDIS_SENTINELS and DMQ_REDIS_MASTER_NAME',
    });
  }
}

/** BullMQ's oldest supported Redis (its RedisConnection.minimumVersion). */
const MINIMUM_VERSION = [5, 0, 0];

/**
 * What BullMQ checks on every connection it opens (dmq turns that off with skipVersionCheck:
 * it printed the same eviction warning once per queue connection), checked once per process.
 */
export async function checkRedisServer(client: Redis, describe: string, log: Logger): Promise<void> {
  const info = await client.info();
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  const version = field('valkey_version') ?? field('redis_version') ?? '0.0.0';
  const parts = version.split('.').map(Number);
  const older = MINIMUM_VERSION.findIndex((want, i) => (parts[i] ?? 0) !== want);
  if (older >= 0 && (parts[older] ?? 0) < MINIMUM_VERSION[older]!) {
    throw new DmqError(
      'CONFIG_INVALID',
      `Redis at ${describe} is version ${version}; dmq's queues need ${MINIMUM_VERSION.join('.')} or later`,
      {
        where: 'REDIS_URL',
        workaround: 'run Redis 6.2 or later (Debian and the Redis image ship 7)',
      },
    );
  }
  const policy = field('maxmemory_policy');
  if (policy !== undefined && policy !== 'noeviction') {
    log.warn(
      { redis: describe, maxmemoryPolicy: policy },
      `Redis evicts keys when full (maxmemory-policy ${policy}): it may drop queued jobs, leases and the task registry; set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf), see docs/operations.md`,
    );
  }
}
