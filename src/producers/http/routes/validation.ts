import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../../../shared/task/context.js';
import {
  operateValidationError,
  startValidation,
  stopValidation,
  validationErrors,
  validationStatus,
} from '../../validation/validation-control.js';
import { ValidationErrorRequest, ValidationStartRequest, ValidationStopRequest } from '../api-schemas.js';
import { parseRequest } from '../body.js';
import { sendError } from '../errors.js';

type NameParams = { Params: { name: string } };

/** `dmq validation …`: the continuous validator of a task's sources. */
export function validationRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.post<NameParams>('/api/v1/tasks/:name/validation/start', async (req, reply) => {
    try {
      const task = await ctx.registry.requireTask(req.params.name);
      const body = parseRequest(
        ValidationStartRequest,
        req.body ?? {},
        '{"mode": "full" | "fast", "start_time": "...", "sources": ["..."]}',
      );
      await startValidation(ctx, task, { sources: body.sources, mode: body.mode, startTime: body.start_time });
      return reply.send({ result: true, msg: '' });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post<NameParams>('/api/v1/tasks/:name/validation/stop', async (req, reply) => {
    try {
      const task = await ctx.registry.requireTask(req.params.name);
      const body = parseRequest(ValidationStopRequest, req.body ?? {}, '{"sources": ["..."]}');
      await stopValidation(ctx, task, body.sources);
      return reply.send({ result: true, msg: '' });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<NameParams & { Querystring: { table_stage?: string } }>('/api/v1/tasks/:name/validation/status', async (req, reply) => {
    try {
      return reply.send(await validationStatus(ctx, await ctx.registry.requireTask(req.params.name), req.query.table_stage));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<NameParams & { Querystring: { error?: string } }>('/api/v1/tasks/:name/validation/errors', async (req, reply) => {
    try {
      return reply.send(await validationErrors(ctx, await ctx.registry.requireTask(req.params.name), req.query.error));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post<NameParams>('/api/v1/tasks/:name/validation/errors', async (req, reply) => {
    try {
      const task = await ctx.registry.requireTask(req.params.name);
      const body = parseRequest(
        ValidationErrorRequest,
        req.body,
        '{"op": "ignore" | "resolve" | "clear", "id": 1} or {"op": "…", "all": true}',
      );
      return reply.send(await operateValidationError(ctx, task, body.op, body.all ? 'all' : body.id!));
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
