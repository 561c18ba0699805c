import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/** Where the task page is served: progress and lag of every task, refreshed live. */
export const TASK_PAGE_PATH = '/tasks';

/**
 * A static page that reads the same /api/v1 answers as the CLI (the build copies it next to
 * this module). With DMQ_TOKEN set the browser logs in with basic auth, and its requests
 * from the page carry the same credentials.
 */
export function mountTaskPage(app: FastifyInstance): void {
  const page = readFileSync(new URL('./task-page/page.html', import.meta.url), 'utf8');
  app.get(TASK_PAGE_PATH, async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
  app.get('/', async (_req, reply) => reply.redirect(TASK_PAGE_PATH));
}
