import type { FastifyInstance } from 'fastify';
import type { QueueEvents } from 'bullmq';
import type { TlsFileAccess } from '../../../shared/config/security.js';
import { parseTaskObject, parseTaskYaml } from '../../../shared/config/task.js';
import type { ServiceContext } from '../../../shared/task/context.js';
import { allTasksStatus, taskStatus } from '../../status/task-status.js';
import { BinlogRequest, UnlockRequest } from '../api-schemas.js';
import { taskShardLocks, unlockShardLock } from '../../shard-ddl-locks.js';
import { taskStartingAt } from '../../binlog/start-by-time.js';
import { injectBinlog, listPendingBinlogOps, revertBinlogOp } from '../../../shared/task/binlog-operations.js';
import { checkTask, pauseTask, removeTask, resolveBinlogError, resumeTask, submitTask } from '../../../shared/task/control.js';
import { parseRequest, readConfigBody } from '../body.js';
import { validationRoutes } from './validation.js';
import { sendError } from '../errors.js';
import { publicTask } from '../redact.js';
import { diffRoutes } from './diff.js';
import { binlogSchemaRoutes } from './binlog-schema.js';

type NameParams = { Params: { name: string }; Querystring: { remove_meta?: string } };
type SubmitQuery = { Querystring: { remove_meta?: string; start_time?: string } };

const truthy = (v: string | undefined) => v === 'true' || v === '1';

/** How long check-task waits for a processor to answer before it reports a timeout. */
const CHECK_TIMEOUT_MS = 120_000;

/** `tlsFiles`: the files a submitted task may name for TLS (none unless the operator set DMQ_TLS_DIR). */
export function taskRoutes(app: FastifyInstance, ctx: ServiceContext, precheckEvents: QueueEvents, tlsFiles?: TlsFileAccess): void {
  const parseBody = (body: unknown) => {
    const parsed = readConfigBody(body, 'task');
    return {
      task: parsed.kind === 'yaml' ? parseTaskYaml(parsed.text, tlsFiles) : parseTaskObject(parsed.value, tlsFiles),
      removeMeta: parsed.kind === 'object' && parsed.removeMeta === true,
      startTime: parsed.kind === 'object' ? parsed.startTime : undefined,
    };
  };

  app.get('/api/v1/tasks', async (_req, reply) => {
    try {
      const status = await allTasksStatus(ctx);
      return reply.send({ total: status.tasks.length, redis: status.redis, data: status.tasks });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post<SubmitQuery>('/api/v1/tasks', async (req, reply) => {
    try {
      const parsed = parseBody(req.body);
      const startTime = parsed.startTime ?? (req.query.start_time || undefined);
      const task = startTime === undefined ? parsed.task : await taskStartingAt(ctx, parsed.task, startTime);
      await submitTask(ctx, task, {
        removeMeta: parsed.removeMeta || truthy(req.query.remove_meta),
        fromStartTime: startTime !== undefined,
      });
      return reply.code(201).send({ result: true, msg: '', task: publicTask(task) });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post('/api/v1/tasks/check', async (req, reply) => {
    try {
      const { task } = parseBody(req.body);
      const result = await checkTask(ctx, task, async (jobId) => {
        const job = await ctx.queues.get('precheck').getJob(jobId);
        return job!.waitUntilFinished(precheckEvents, CHECK_TIMEOUT_MS);
      });
      return reply.send(result);
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<NameParams>('/api/v1/tasks/:name', async (req, reply) => {
    try {
      return reply.send(publicTask(await ctx.registry.requireTask(req.params.name)));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<{ Params: { name: string }; Querystring: { more?: string } }>('/api/v1/tasks/:name/status', async (req, reply) => {
    try {
      return reply.send(await taskStatus(ctx, await ctx.registry.requireTask(req.params.name), { more: truthy(req.query.more) }));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.delete<NameParams>('/api/v1/tasks/:name', async (req, reply) => {
    try {
      await removeTask(ctx, req.params.name, { removeMeta: truthy(req.query.remove_meta) });
      return reply.send({ result: true, msg: '' });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  const control = (path: string, action: (name: string) => Promise<void>) =>
    app.post<NameParams>(`/api/v1/tasks/:name/${path}`, async (req, reply) => {
      try {
        await action(req.params.name);
        return reply.send({ result: true, msg: '' });
      } catch (err) {
        return sendError(reply, err);
      }
    });
  control('pause', (name) => pauseTask(ctx, name));
  // DM's OpenAPI calls pausing "stop" and resuming "start".
  control('stop', (name) => pauseTask(ctx, name));
  control('resume', (name) => resumeTask(ctx, name));
  control('start', (name) => resumeTask(ctx, name));

  diffRoutes(app, ctx);

  app.post<NameParams>('/api/v1/tasks/:name/binlog', async (req, reply) => {
    try {
      const {
        op,
        binlog_pos: coord,
        source,
        sqls,
      } = parseRequest(
        BinlogRequest,
        req.body,
        '{"op": "skip" | "replace" | "inject" | "revert", "binlog_pos": "file:pos", "source": "<source-id>", "sqls": ["..."]}',
      );
      const name = req.params.name;
      if (op === 'inject') {
        const at = await injectBinlog(ctx, name, { coord, sourceId: source, sqls: sqls! });
        return reply.send({ result: true, msg: '', sources: [at] });
      }
      if (op === 'revert')
        return reply.send({ result: true, msg: '', sources: await revertBinlogOp(ctx, name, { coord, sourceId: source }) });
      await resolveBinlogError(ctx, name, { coord: coord!, sourceId: source, op: op === 'skip' ? { op } : { op, sqls: sqls! } });
      return reply.send({ result: true, msg: '' });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<{ Params: { name: string }; Querystring: { binlog_pos?: string; source?: string } }>(
    '/api/v1/tasks/:name/binlog',
    async (req, reply) => {
      try {
        const listed = await listPendingBinlogOps(ctx, req.params.name, {
          coord: req.query.binlog_pos || undefined,
          sourceId: req.query.source || undefined,
        });
        return reply.send({ result: true, msg: '', ...listed });
      } catch (err) {
        return sendError(reply, err);
      }
    },
  );

  app.get<NameParams>('/api/v1/tasks/:name/shard-ddl-locks', async (req, reply) => {
    try {
      return reply.send({ result: true, msg: '', locks: await taskShardLocks(ctx, req.params.name) });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post<NameParams>('/api/v1/tasks/:name/shard-ddl-locks/unlock', async (req, reply) => {
    try {
      const { lock_id: lockId, force_remove: forceRemove } = parseRequest(
        UnlockRequest,
        req.body,
        '{"lock_id": "<id from shard-ddl-lock>", "force_remove": false}',
      );
      const lock = await unlockShardLock(ctx, req.params.name, lockId, forceRemove === true);
      return reply.send({
        result: true,
        msg: `lock ${lock.id} (DDL ${lock.seq}) resolved${lock.missing.length ? `; shards that had not reached it: ${lock.missing.join(', ')}` : ''}`,
      });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  validationRoutes(app, ctx);
  binlogSchemaRoutes(app, ctx);
}
