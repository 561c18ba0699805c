import { QueueEvents, type ConnectionOptions } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { QUEUE_PREFIX, STATIC_QUEUES } from '../../shared/queue/queues.js';
import type { ProcessorContext } from '../../processors/context.js';
import { requireToken } from './auth.js';
import { mountDashboard } from './dashboard.js';
import { createMetrics } from './metrics.js';
import { sourceRoutes } from './routes/sources.js';
import { taskRoutes } from './routes/tasks.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];

export interface ApiServer {
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function buildApiServer(ctx: ProcessorContext, options: { token?: string | undefined } = {}): Promise<ApiServer> {
  const app = Fastify({ logger: false, bodyLimit: 16 << 20 });
  if (options.token !== undefined) requireToken(app, options.token);
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) => done(null, body));

  const metrics = createMetrics(ctx);

  const precheckEvents = new QueueEvents(STATIC_QUEUES.precheck, {
    connection: ctx.redis.duplicate() as unknown as ConnectionOptions,
    prefix: QUEUE_PREFIX,
  });

  sourceRoutes(app, ctx);
  taskRoutes(app, ctx, precheckEvents);
  const stopDashboard = await mountDashboard(app, ctx);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await ctx.redis.ping();
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', error: `redis: ${(err as Error).message}` });
    }
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  return {
    app,
    async close() {
      stopDashboard();
      await app.close();
      await precheckEvents.close();
    },
  };
}
