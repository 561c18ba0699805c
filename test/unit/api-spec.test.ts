import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { QueueEvents } from 'bullmq';
import Fastify from 'fastify';
import type { ServiceContext } from '../../src/shared/task/context.js';
import { mountApiDocs } from '../../src/producers/http/api-docs.js';
import { API_ROUTES, openApiDocument } from '../../src/producers/http/api-spec.js';
import { sourceRoutes } from '../../src/producers/http/routes/sources.js';
import { taskRoutes } from '../../src/producers/http/routes/tasks.js';

test('the OpenAPI document is valid OpenAPI 3.1', async () => {
  const result = await new Validator().validate(openApiDocument('0.0.0') as never);
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
});

test('the OpenAPI document lists exactly the /api/v1 routes the server registers', async () => {
  const app = Fastify();
  const registered: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') registered.push(`${method.toLowerCase()} ${route.url}`);
  });
  // Registering touches neither Redis nor a database: handlers do, and none runs here.
  sourceRoutes(app, {} as ServiceContext);
  taskRoutes(app, {} as ServiceContext, {} as QueueEvents);
  mountApiDocs(app);
  await app.ready();
  const documented = API_ROUTES.map((r) => `${r.method} ${r.path}`);
  const meta = ['get /api/v1/openapi.json', 'get /api/v1/docs'];
  assert.deepEqual([...registered].sort(), [...documented, ...meta].sort());
  const doc = openApiDocument('0.0.0') as { paths: Record<string, Record<string, unknown>> };
  for (const r of API_ROUTES) assert.ok(doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method], `${r.method} ${r.path} in the document`);
  await app.close();
});
