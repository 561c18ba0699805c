import type { FastifyInstance } from 'fastify';
import type { TlsFileAccess } from '../../../shared/config/security.js';
import { parseSourceObject, parseSourceYaml } from '../../../shared/config/source.js';
import { checkSourceUpdate } from '../../../shared/config/source-update.js';
import { DmqError } from '../../../shared/errors.js';
import { isMariadb } from '../../../shared/sql/binlog-status.js';
import { withConnection } from '../../../shared/sql/connect.js';
import { SOURCE_SESSION } from '../../../shared/sql/pools.js';
import type { ServiceContext } from '../../../shared/task/context.js';
import { readConfigBody } from '../body.js';
import { sendError } from '../errors.js';
import { publicSource } from '../redact.js';

function notFound(name: string): DmqError {
  return new DmqError('SOURCE_NOT_FOUND', `source "${name}" is not registered`, {
    workaround: 'list sources with `dmq operate-source show`; register one with `dmq operate-source create source.yaml`',
  });
}

/** `tlsFiles`: the files a submitted source may name for TLS (none unless the operator set DMQ_TLS_DIR). */
export function sourceRoutes(app: FastifyInstance, ctx: ServiceContext, tlsFiles?: TlsFileAccess): void {
  app.get('/api/v1/sources', async (_req, reply) => {
    try {
      const sources = (await ctx.registry.listSources()).map(publicSource);
      return reply.send({ total: sources.length, data: sources });
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post('/api/v1/sources', async (req, reply) => {
    try {
      const body = readConfigBody(req.body, 'source');
      const source = body.kind === 'yaml' ? parseSourceYaml(body.text, tlsFiles) : parseSourceObject(body.value, tlsFiles);
      await ctx.registry.putSource(source, { replace: false });
      ctx.log.info({ source: source.sourceId, host: source.from.host, port: source.from.port }, 'source registered');
      return reply.code(201).send(publicSource(source));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<{ Params: { name: string } }>('/api/v1/sources/:name', async (req, reply) => {
    try {
      const source = await ctx.registry.getSource(req.params.name);
      if (!source) throw notFound(req.params.name);
      return reply.send(publicSource(source));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  // DM's update (dmctl operate-source update): the binlog readers of running tasks reconnect to it.
  app.put<{ Params: { name: string } }>('/api/v1/sources/:name', async (req, reply) => {
    try {
      const current = await ctx.registry.getSource(req.params.name);
      if (!current) throw notFound(req.params.name);
      const body = readConfigBody(req.body, 'source');
      const source = body.kind === 'yaml' ? parseSourceYaml(body.text, tlsFiles) : parseSourceObject(body.value, tlsFiles);
      checkSourceUpdate(current, source, req.params.name);
      await ctx.registry.putSource(source, { replace: true });
      ctx.log.info({ source: source.sourceId, host: source.from.host, port: source.from.port }, 'source updated');
      return reply.send(publicSource(source));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.delete<{ Params: { name: string } }>('/api/v1/sources/:name', async (req, reply) => {
    try {
      const users: string[] = [];
      for (const name of await ctx.registry.listTaskNames()) {
        const task = await ctx.registry.getTask(name);
        if (task?.instances.some((i) => i.sourceId === req.params.name)) users.push(name);
      }
      if (users.length > 0) {
        throw new DmqError('SOURCE_EXISTS', `source "${req.params.name}" is used by task(s) ${users.join(', ')}`, {
          workaround: 'stop those tasks first with `dmq stop-task <task>`',
        });
      }
      if (!(await ctx.registry.deleteSource(req.params.name))) throw notFound(req.params.name);
      return reply.code(204).send();
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get<{ Params: { name: string } }>('/api/v1/sources/:name/status', async (req, reply) => {
    try {
      const source = await ctx.registry.getSource(req.params.name);
      if (!source) throw notFound(req.params.name);
      const options = { label: `source "${source.sourceId}"`, role: 'source' as const, session: SOURCE_SESSION };
      const status = await withConnection(source.from, options, async (conn) => {
        const [rows] = await conn.query('SELECT VERSION() AS v');
        return { version: String((rows as { v: string }[])[0]?.v), flavor: (await isMariadb(conn)) ? 'mariadb' : 'mysql' };
      }).then(
        (s) => ({ connected: true, ...s }),
        (err: unknown) => ({ connected: false, error: (err as Error).message }),
      );
      return reply.send({ source_name: source.sourceId, ...status });
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
