import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { STATIC_QUEUES, listActiveQueues } from '../../shared/queue/queues.js';
import type { ServiceContext } from '../../shared/task/context.js';

export const DASHBOARD_PATH = '/dashboard';

/** Bull Board over every dmq queue, following dump/load queues as tasks come and go. */
export async function mountDashboard(app: FastifyInstance, ctx: ServiceContext): Promise<() => void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  const board = createBullBoard({ queues: [], serverAdapter, options: { uiConfig: { boardTitle: 'dmq' } } });
  const refresh = async () => {
    const names = [...Object.values(STATIC_QUEUES), ...(await listActiveQueues(ctx.redis)).keys()];
    board.replaceQueues(names.map((name) => new BullMQAdapter(ctx.queues.get(name), { readOnlyMode: false })));
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch((err: unknown) => ctx.log.warn({ err }, 'dashboard refresh failed')), 5000);
  await app.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
  return () => clearInterval(timer);
}
