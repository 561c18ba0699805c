import { hostname } from 'node:os';
import { poolCache } from './shared/sql/pools.js';
import type { ServiceContext } from './shared/task/context.js';
import { startProcessors } from './processors/runtime.js';
import { startReaderSupervisor } from './producers/binlog/supervisor.js';
import { buildApiServer } from './producers/http/server.js';
import { DASHBOARD_PATH } from './producers/http/dashboard.js';
import { usesDefaultSecretKey } from './shared/config/password.js';
import { tlsFileAccess } from './shared/config/security.js';
import { DmqError } from './shared/errors.js';
import { logger } from './shared/logger.js';
import { ByteBudget } from './shared/memory/byte-budget.js';
import { queueCache } from './shared/queue/queues.js';
import { checkRedisServer, connectRedis, createRedis } from './shared/redis/connection.js';
import { redisHealth } from './shared/redis/outage.js';
import { readSettings, type Settings } from './shared/settings.js';
import { registry } from './shared/state/registry.js';
import { localDumpStore } from './shared/store/local-dump-store.js';

type Role = 'all' | 'api' | 'worker';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Without a token the API is open to whoever reaches it: then only this machine may. */
function listenHost(settings: Settings): string {
  if (settings.DMQ_TOKEN !== undefined || LOOPBACK.has(settings.DMQ_HOST)) return settings.DMQ_HOST;
  logger.warn(
    { requested: settings.DMQ_HOST },
    `DMQ_TOKEN is not set, so the API listens on 127.0.0.1 only instead of ${settings.DMQ_HOST}; set DMQ_TOKEN to serve other hosts`,
  );
  return '127.0.0.1';
}

/**
 * Passwords in Redis are sealed with DMQ_SECRET_KEY; sealed with DM's public default key they
 * are as good as plain text to anyone who can read Redis or its backups.
 */
function checkSecretKey(settings: Settings): void {
  if (!usesDefaultSecretKey()) return;
  if (settings.DMQ_REQUIRE_SECRET_KEY) {
    throw new DmqError(
      'CONFIG_INVALID',
      "DMQ_REQUIRE_SECRET_KEY is set, but DMQ_SECRET_KEY is not (or is DM's public default key): stored passwords would be encrypted with a key anyone can look up",
      {
        where: 'DMQ_SECRET_KEY',
        workaround:
          "set DMQ_SECRET_KEY to 64 hex characters of your own (openssl rand -hex 32), the same in every dmq process (and DM's secret-key-path key if DM shares the encrypted passwords)",
      },
    );
  }
  logger.warn(
    "DMQ_SECRET_KEY is not set: passwords stored in Redis are encrypted with DM's public default key, which anyone who reads Redis can undo; set DMQ_SECRET_KEY (openssl rand -hex 32) in production, and DMQ_REQUIRE_SECRET_KEY=true to refuse to start without it",
  );
}

/** `dmq serve`: API, processors, or both in one process (the single-machine default). */
/**
 * A close that never ends (a BullMQ connection stuck after a Redis outage) must not keep the
 * process from stopping: an orchestrator would kill it later anyway, without saying why.
 */
const CLOSE_DEADLINE_MS = 10_000;

export async function serve(role: Role): Promise<{ close(): Promise<void> }> {
  const settings = readSettings();
  checkSecretKey(settings);
  const tlsFiles = role === 'worker' ? undefined : tlsFileAccess(settings.DMQ_TLS_DIR);
  const { client: redis, describe: redisName } = createRedis(settings);
  const health = redisHealth(logger, redisName);
  await connectRedis(redis, redisName);
  health.watch(redis);
  await health.markData(redis);
  await checkRedisServer(redis, redisName, logger);
  const ctx: ServiceContext = {
    redis,
    redisHealth: health,
    registry: registry(redis),
    queues: queueCache(redis, health.queueError),
    store: localDumpStore(settings.DMQ_DUMP_DIR),
    copyPath: settings.DMQ_COPY_PATH,
    copyBudget: new ByteBudget(settings.DMQ_COPY_BUFFER_MIB << 20),
    pools: poolCache(),
    log: logger,
  };
  // `away`: Redis is unreachable, so nothing is waited for that needs it.
  const closers: { what: string; close: (away: boolean) => Promise<void> }[] = [];

  if (role !== 'api') {
    // A worker runs the job handlers and takes its share of the binlog readers.
    const takeoverMs = settings.DMQ_TAKEOVER_SECONDS * 1000;
    const processors = startProcessors(ctx, { takeoverMs });
    const readers = startReaderSupervisor(ctx, { leaseMs: takeoverMs });
    closers.push(
      { what: 'job processors', close: (away) => processors.close(away) },
      { what: 'binlog readers', close: () => readers.close() },
    );
  }
  if (role !== 'worker') {
    const host = listenHost(settings);
    const api = await buildApiServer(ctx, {
      tokens: settings.DMQ_TOKEN === undefined ? undefined : { admin: settings.DMQ_TOKEN, read: settings.DMQ_READ_TOKEN },
      hosts: { own: [host.toLowerCase(), hostname().toLowerCase()], configured: settings.DMQ_ALLOWED_HOSTS },
      tlsFiles,
    });
    await api.app.listen({ port: settings.DMQ_PORT, host });
    closers.push({ what: 'API server', close: (away) => api.close(away) });
    logger.info(
      {
        role,
        url: `http://${host}:${settings.DMQ_PORT}`,
        dashboard: DASHBOARD_PATH,
        auth: settings.DMQ_TOKEN ? (settings.DMQ_READ_TOKEN ? 'admin and read-only tokens' : 'token') : 'none (local only)',
        allowedHosts: settings.DMQ_ALLOWED_HOSTS,
        redis: redisName,
        dumpDir: ctx.store.describe(),
        tlsDir: tlsFiles?.dir ?? 'none (TLS material only as PEM contents)',
      },
      'dmq serving',
    );
  } else {
    logger.info({ role, redis: redisName, dumpDir: ctx.store.describe() }, 'dmq processors running');
  }

  closers
    .reverse()
    .push({ what: 'queues', close: (away) => ctx.queues.close(away) }, { what: 'database pools', close: () => ctx.pools.closeAll() });
  return {
    async close() {
      let step = closers[0]!.what;
      const away = redis.status !== 'ready';
      if (away) {
        // Every command waits for Redis to come back (maxRetriesPerRequest: null), and so would
        // the shutdown. Ending the connection fails them at once; jobs in flight go back to
        // their queues when their locks lapse, leases when they expire.
        logger.warn(
          { redis: redisName, since: health.snapshot().current?.since },
          'stopping while Redis is unreachable: not waiting for it; jobs in flight return to their queues when their locks lapse',
        );
        redis.disconnect();
      }
      const orderly = (async () => {
        for (const closer of closers) {
          step = closer.what;
          await closer
            .close(away)
            .catch((err: unknown) =>
              away ? logger.debug({ err, step }, 'error while closing') : logger.warn({ err, step }, 'error while closing'),
            );
        }
      })();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), CLOSE_DEADLINE_MS);
      });
      if ((await Promise.race([orderly, late])) === 'late') {
        logger.error({ step }, `shutdown did not finish within ${CLOSE_DEADLINE_MS / 1000} s (stuck closing the ${step}); stopping anyway`);
      }
      clearTimeout(timer);
      redis.disconnect();
    },
  };
}
