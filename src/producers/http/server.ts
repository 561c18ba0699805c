import { QueueEvents } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import type { TlsFileAccess } from '../../shared/config/security.js';
import { STATIC_QUEUES, bullmqOptions } from '../../shared/queue/queues.js';
import type { ServiceContext } from '../../shared/task/context.js';
import { DmqError } from '../../shared/errors.js';
import { mountApiDocs } from './api-docs.js';
import { mountTaskPage } from './task-page.js';
import { requireToken, type Tokens } from './auth.js';
import type { HostRules } from './allowed-hosts.js';
import { refuseForgedRequests } from './forgery-guard.js';
import { sendError } from './errors.js';
import { PROBES } from './probes.js';
import { mountDashboard } from './dashboard.js';
import { METRICS_PATH, createMetrics } from './metrics.js';
import { sourceRoutes } from './routes/sources.js';
import { taskRoutes } from './routes/tasks.js';

function redisDown(ctx: ServiceContext): DmqError {
  const health = ctx.redisHealth.snapshot();
  const since = health.current
    ? `unreachable since ${health.current.since} (${health.current.reconnectAttempts} reconnect attempts so far)`
    : `connection ${ctx.redis.status}`;
  return new DmqError('REDIS_UNAVAILABLE', `Redis cannot be reached at ${health.redis}: ${since}; dmq keeps its queues and tasks there`, {
    where: 'REDIS_URL',
    workaround: 'start Redis or fix REDIS_URL; dmq reconnects by itself and nothing is lost meanwhile',
  });
}

// No text/plain: a web page may send that anywhere without a preflight (forgery-guard.ts).
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

interface ApiServer {
  app: FastifyInstance;
  /** `redisAway`: Redis is unreachable, so the event reader's connection is dropped, not closed. */
  close(redisAway?: boolean): Promise<void>;
}

export async function buildApiServer(
  ctx: ServiceContext,
  options: { tokens?: Tokens | undefined; hosts: HostRules; tlsFiles?: TlsFileAccess | undefined },
): Promise<ApiServer> {
  const app = Fastify({ logger: false, bodyLimit: 16 << 20 });
  refuseForgedRequests(app, options.hosts);
  if (options.tokens !== undefined) requireToken(app, options.tokens);
  // The shared client queues commands while Redis is away (processors must wait it out); the
  // API answers at once instead of hanging.
  // /metrics too: a scrape during an outage is when dmq_redis_up 0 matters.
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (ctx.redis.status === 'ready' || PROBES.has(path) || path === METRICS_PATH) return;
    await sendError(reply, redisDown(ctx));
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) => done(null, body));

  const metrics = createMetrics(ctx);

  const precheckEvents = new QueueEvents(STATIC_QUEUES.precheck, bullmqOptions(ctx.redis.duplicate()));
  precheckEvents.on('error', (err) => ctx.redisHealth.queueError(err, { queue: STATIC_QUEUES.precheck }));

  mountApiDocs(app);
  mountTaskPage(app);
  sourceRoutes(app, ctx, options.tlsFiles);
  taskRoutes(app, ctx, precheckEvents, options.tlsFiles);
  const stopDashboard = await mountDashboard(app, ctx);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (ctx.redis.status !== 'ready') return reply.code(503).send({ status: 'unavailable', error: redisDown(ctx).message });
    try {
      await ctx.redis.ping();
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', error: `redis: ${(err as Error).message}` });
    }
  });
  app.get(METRICS_PATH, async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  return {
    app,
    async close(redisAway = false) {
      stopDashboard();
      await app.close();
      // Its close says goodbye to Redis and waits for the answer; with Redis away that never comes.
      if (redisAway) void precheckEvents.disconnect().catch(() => undefined);
      else await precheckEvents.close();
    },
  };
}
