import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../../../shared/task/context.js';
import { deleteTrackedTable, trackedSchemas, trackedTable, trackedTables, updateTrackedTable } from '../../binlog/schema-operations.js';
import { BinlogSchemaRequest } from '../api-schemas.js';
import { parseRequest } from '../body.js';
import { sendError } from '../errors.js';

type Source = { name: string; source: string };
type Table = Source & { schema: string; table: string };

const BASE = '/api/v1/tasks/:name/sources/:source/schemas';

/** `dmq binlog-schema …` as DM's OpenAPI has it: the schema tracker of one source of a task. */
export function binlogSchemaRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.get<{ Params: Source }>(BASE, async (req, reply) => {
    try {
      return reply.send(await trackedSchemas(ctx, req.params.name, req.params.source));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<{ Params: Source & { schema: string } }>(`${BASE}/:schema`, async (req, reply) => {
    try {
      return reply.send(await trackedTables(ctx, req.params.name, req.params.source, req.params.schema));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<{ Params: Table }>(`${BASE}/:schema/:table`, async (req, reply) => {
    try {
      const { name, source, schema, table } = req.params;
      return reply.send(await trackedTable(ctx, name, source, schema, table));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.put<{ Params: Table }>(`${BASE}/:schema/:table`, async (req, reply) => {
    try {
      const { name, source, schema, table } = req.params;
      const body = parseRequest(BinlogSchemaRequest, req.body, '{"sql_content": "CREATE TABLE ..."} or {"from_source": true}');
      const updated = await updateTrackedTable(
        ctx,
        name,
        source,
        { schema, table },
        { sql: body.sql_content, fromSource: body.from_source },
      );
      return reply.send({ result: true, msg: '', ...updated });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.delete<{ Params: Table }>(`${BASE}/:schema/:table`, async (req, reply) => {
    try {
      const { name, source, schema, table } = req.params;
      await deleteTrackedTable(ctx, name, source, { schema, table });
      return reply.send({ result: true, msg: '' });
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
