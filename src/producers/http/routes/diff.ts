import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { beginDiffReport, readDiffReport, readFixStatements, type DiffReport } from '../../../shared/diff/diff-report.js';
import { DmqError } from '../../../shared/errors.js';
import { DIFF_JOB_OPTIONS, STATIC_QUEUES, type DiffJob } from '../../../shared/queue/queues.js';
import type { ServiceContext } from '../../../shared/task/context.js';
import { sendError } from '../errors.js';

type NameParams = { Params: { name: string } };

async function requireReport(ctx: ServiceContext, task: string): Promise<DiffReport> {
  const report = await readDiffReport(ctx.redis, task);
  if (!report) {
    throw new DmqError('DIFF_NOT_FOUND', `task "${task}" has no diff yet`, { workaround: `run one: dmq diff ${task}` });
  }
  return report;
}

/**
 * `dmq diff`: a run is a job on the `diff` queue, so any worker process may do it; its report
 * (progress, then the result) and its fix SQL stay in Redis for the CLI, query-status and the
 * task page to read.
 */
export function diffRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.post<NameParams>('/api/v1/tasks/:name/diff', async (req, reply) => {
    try {
      const task = await ctx.registry.requireTask(req.params.name);
      const now = Date.now();
      const id = `${now.toString(36)}-${randomBytes(3).toString('hex')}`;
      const report: DiffReport = { id, task: task.name, state: 'running', startedAt: now, updatedAt: now, tables: [], fixStatements: 0 };
      if (!(await beginDiffReport(ctx.redis, report, now))) {
        throw new DmqError('DIFF_RUNNING', `a diff of task "${task.name}" is running already`, {
          workaround: `follow it with: dmq diff --follow ${task.name}`,
        });
      }
      const job: DiffJob = { task: task.name, id };
      await ctx.queues.get(STATIC_QUEUES.diff).add('diff', job, { ...DIFF_JOB_OPTIONS, jobId: `diff|${task.name}|${id}` });
      return reply.send({ result: true, msg: '', id });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<NameParams>('/api/v1/tasks/:name/diff', async (req, reply) => {
    try {
      return reply.send(await requireReport(ctx, req.params.name));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<NameParams>('/api/v1/tasks/:name/diff/fix-sql', async (req, reply) => {
    try {
      const report = await requireReport(ctx, req.params.name);
      return reply.send({ result: true, msg: '', sql: [...(await readFixStatements(ctx.redis, report.task)), ''].join('\n') });
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
