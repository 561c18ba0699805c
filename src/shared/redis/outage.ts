import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/** One outage as this process saw it, from its first failure to the main connection being ready again. */
export interface RedisOutage {
  since: string;
  until?: string;
  seconds: number;
  reconnectAttempts: number;
  /** Errors the queues reported meanwhile, counted instead of logged. */
  queueErrors: number;
}

export interface RedisHealthSnapshot {
  up: boolean;
  /** When Redis last came back without dmq's data (restarted empty, or failed over to an empty replica). */
  dataLostAt?: string;
  /** Redis as the process names it in its logs, without any password. */
  redis: string;
  outages: number;
  outageSeconds: number;
  reconnectAttempts: number;
  current?: RedisOutage;
  lastOutage?: RedisOutage;
}

/** Errors of a socket that lost Redis, as ioredis and BullMQ word them. */
const CONNECTION_ERROR =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|sentinels are unreachable/i;

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return CONNECTION_ERROR.test(String(e?.code ?? '')) || CONNECTION_ERROR.test(String(e?.message ?? ''));
}

/**
 * Set once in a Redis that holds dmq's data. Missing after an outage: Redis came back without
 * anything dmq put there (restarted without persistence, or a failover to an empty replica).
 */
const DATA_MARKER = 'dmq:data-since';

/** While the main connection is fine, a queue connection's own failure is told at most this often. */
const STRAY_ERROR_EVERY_MS = 60_000;

/**
 * One per process: what Redis is doing, told once. Every connection of the process (ioredis's
 * own, BullMQ's workers and event readers, each retrying on its own timer) fails at once when
 * Redis goes away; logged each, a 3-second outage was ~440 lines. Here the main connection's
 * state decides: an outage starts with its first failure (one warning), every error meanwhile
 * is counted, and it ends when the main connection is ready again (one summary).
 */
export function redisHealth(log: Logger, redis: string) {
  let outages = 0;
  let outageMs = 0;
  let reconnectAttempts = 0;
  let current: { since: number; attempts: number; queueErrors: number } | undefined;
  let lastOutage: RedisOutage | undefined;
  let strayToldAt = 0;
  let main: Redis | undefined;
  let dataLostAt: string | undefined;

  /** Marks the data as dmq's; true when the mark was missing. */
  async function markData(client: Redis): Promise<boolean> {
    return (await client.set(DATA_MARKER, new Date().toISOString(), 'NX')) === 'OK';
  }

  async function checkDataAfterOutage(client: Redis): Promise<void> {
    if (!(await markData(client))) return;
    dataLostAt = new Date().toISOString();
    log.error(
      { redis },
      "Redis came back without dmq data (restarted empty, or failed over to a replica without it): registered sources, tasks, queued work and leases are gone. The facts are safe in each task's meta schema on the target: register the sources again (dmq operate-source create) and start the tasks again (dmq start-task, without --remove-meta); they continue from their checkpoints",
    );
  }

  const describe = (o: NonNullable<typeof current>, until?: number): RedisOutage => ({
    since: new Date(o.since).toISOString(),
    ...(until === undefined ? {} : { until: new Date(until).toISOString() }),
    seconds: Math.round(((until ?? Date.now()) - o.since) / 100) / 10,
    reconnectAttempts: o.attempts,
    queueErrors: o.queueErrors,
  });

  function begin(err: unknown): void {
    if (current) return;
    current = { since: Date.now(), attempts: 0, queueErrors: 0 };
    outages += 1;
    log.warn(
      { redis, since: new Date(current.since).toISOString(), err: (err as Error | undefined)?.message },
      'Redis is unreachable: queues, task registry and leases wait for it; dmq reconnects by itself and writes one line when it is back',
    );
  }

  function end(): void {
    if (!current) return;
    const now = Date.now();
    lastOutage = describe(current, now);
    outageMs += now - current.since;
    current = undefined;
    log.warn(
      { redis, ...lastOutage },
      `Redis is back after ${lastOutage.seconds} s and ${lastOutage.reconnectAttempts} reconnect attempts`,
    );
  }

  return {
    /** Follows the process's main connection, whose state is the process's view of Redis. */
    watch(client: Redis): void {
      main = client;
      client.on('error', (err) => {
        if (isConnectionError(err)) begin(err);
        else log.error({ redis, err }, 'Redis connection error');
      });
      client.on('close', () => {
        if (client.status !== 'end') begin(undefined);
      });
      client.on('reconnecting', () => {
        reconnectAttempts += 1;
        if (current) current.attempts += 1;
      });
      client.on('ready', () => {
        if (!current) return;
        end();
        checkDataAfterOutage(client).catch((err: unknown) => log.warn({ redis, err }, 'cannot check whether Redis kept dmq data'));
      });
    },

    /** At start: marks Redis as holding dmq's data, so a later restart without it is noticed. */
    async markData(client: Redis): Promise<void> {
      await markData(client);
    },

    /** An 'error' event of a BullMQ worker or event reader: counted during an outage, else logged. */
    queueError(err: unknown, fields: Record<string, unknown>): void {
      // The process let go of Redis (shutting down): connections failing now are its own doing.
      if (main?.status === 'end') return;
      if (current || (main !== undefined && main.status !== 'ready')) {
        begin(err);
        current!.queueErrors += 1;
        return;
      }
      if (!isConnectionError(err)) {
        log.error({ ...fields, err }, 'queue error');
        return;
      }
      // The main connection is fine: one queue connection failed alone (its retry follows).
      if (Date.now() - strayToldAt < STRAY_ERROR_EVERY_MS) return;
      strayToldAt = Date.now();
      log.warn(
        { ...fields, redis, err: (err as Error).message },
        'a queue connection to Redis failed while the main one is up; it reconnects by itself',
      );
    },

    snapshot(): RedisHealthSnapshot {
      const ongoing = current ? describe(current) : undefined;
      return {
        up: current === undefined,
        ...(dataLostAt ? { dataLostAt } : {}),
        redis,
        outages,
        outageSeconds: Math.round((outageMs + (current ? Date.now() - current.since : 0)) / 100) / 10,
        reconnectAttempts,
        ...(ongoing ? { current: ongoing } : {}),
        ...(lastOutage ? { lastOutage } : {}),
      };
    },
  };
}

export type RedisHealth = ReturnType<typeof redisHealth>;
