import { z } from 'zod';
import { openApiRequestSchema, sourceYamlSchema } from '../../shared/config/source.js';
import { taskSchema } from '../../shared/config/task-schema.js';
import {
  BinlogOpList,
  BinlogSchemaUpdated,
  CheckResult,
  DiffReportBody,
  DiffStarted,
  ErrorBody,
  FixSql,
  NameList,
  Result,
  ShardLockList,
  Source,
  SourceList,
  SourceStatus,
  Task,
  TaskList,
  TaskStatus,
  TaskSubmitted,
  TrackedTableBody,
  ValidationErrorList,
  ValidationStatus,
} from './api-schemas.js';
import { CLIENT_HEADER } from './forgery-guard.js';

type Method = 'get' | 'post' | 'put' | 'delete';

interface ApiRoute {
  method: Method;
  /** Fastify's spelling: `:name` for a path parameter. */
  path: string;
  summary: string;
  tag: 'sources' | 'tasks';
  body?: 'source' | 'task' | 'binlog' | 'unlock' | 'validation-start' | 'validation-stop' | 'validation-error' | 'binlog-schema';
  query?: Record<string, string>;
  /** Success answers; every route may also answer with an Error body. */
  responses: Partial<Record<200 | 201 | 204, z.ZodType | null>>;
}

const removeMeta = { remove_meta: "true: drop the task's checkpoints (dm_meta) and dump files first" };

/** Every /api/v1 route dmq serves: the source of the OpenAPI document. */
export const API_ROUTES: ApiRoute[] = [
  { method: 'get', path: '/api/v1/sources', tag: 'sources', summary: 'List registered sources', responses: { 200: SourceList } },
  {
    method: 'post',
    path: '/api/v1/sources',
    tag: 'sources',
    summary: 'Register a source (source.yaml, or DM OpenAPI JSON)',
    body: 'source',
    responses: { 201: Source },
  },
  { method: 'get', path: '/api/v1/sources/:name', tag: 'sources', summary: 'Get a source (password masked)', responses: { 200: Source } },
  {
    method: 'put',
    path: '/api/v1/sources/:name',
    tag: 'sources',
    summary: 'Update a source (operate-source update): the binlog readers of running tasks reconnect; a new address needs enable-gtid',
    body: 'source',
    responses: { 200: Source },
  },
  { method: 'delete', path: '/api/v1/sources/:name', tag: 'sources', summary: 'Remove a source no task uses', responses: { 204: null } },
  {
    method: 'get',
    path: '/api/v1/sources/:name/status',
    tag: 'sources',
    summary: 'Connect to a source and report its version',
    responses: { 200: SourceStatus },
  },
  { method: 'get', path: '/api/v1/tasks', tag: 'tasks', summary: 'List tasks and their stages', responses: { 200: TaskList } },
  {
    method: 'post',
    path: '/api/v1/tasks',
    tag: 'tasks',
    summary: 'Submit a task (task.yaml, or DM OpenAPI JSON); its precheck runs first',
    body: 'task',
    query: {
      ...removeMeta,
      start_time:
        "incremental task: each source's meta becomes its first transaction at or after this time ('2026-12-07 10:00:00' in the source's time zone, or with an offset: '2026-12-07T10:00:00+08:00')",
    },
    responses: { 201: TaskSubmitted },
  },
  {
    method: 'post',
    path: '/api/v1/tasks/check',
    tag: 'tasks',
    summary: "Run a task's precheck without starting it",
    body: 'task',
    responses: { 200: CheckResult },
  },
  { method: 'get', path: '/api/v1/tasks/:name', tag: 'tasks', summary: 'Get a task (passwords masked)', responses: { 200: Task } },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/status',
    tag: 'tasks',
    summary: 'query-status: per source stage, unit, progress, sync and errors',
    query: { more: "true: every precheck item, and per source every table's replication checkpoint (query-status --more)" },
    responses: { 200: TaskStatus },
  },
  {
    method: 'delete',
    path: '/api/v1/tasks/:name',
    tag: 'tasks',
    summary: 'Stop and remove a task',
    query: removeMeta,
    responses: { 200: Result },
  },
  {
    method: 'post',
    path: '/api/v1/tasks/:name/pause',
    tag: 'tasks',
    summary: 'Pause a task: running jobs finish, no new ones start',
    responses: { 200: Result },
  },
  { method: 'post', path: '/api/v1/tasks/:name/stop', tag: 'tasks', summary: "DM's name for pause", responses: { 200: Result } },
  {
    method: 'post',
    path: '/api/v1/tasks/:name/resume',
    tag: 'tasks',
    summary: 'Resume a paused task from its checkpoints',
    responses: { 200: Result },
  },
  { method: 'post', path: '/api/v1/tasks/:name/start', tag: 'tasks', summary: "DM's name for resume", responses: { 200: Result } },
  {
    method: 'post',
    path: '/api/v1/tasks/:name/binlog',
    tag: 'tasks',
    summary:
      "binlog skip|replace|inject|revert: settle the event the task paused on (a batch or DDL the target rejected, a DDL dmq cannot read, a filter's Error) and resume; inject statements before a statement ahead; remove an operation not applied yet",
    body: 'binlog',
    responses: { 200: Result },
  },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/binlog',
    tag: 'tasks',
    summary: 'binlog list: the operations (skip, replace, inject) not applied yet, per source in binlog order',
    query: { binlog_pos: 'only those at or after this file:pos', source: 'only those of this source' },
    responses: { 200: BinlogOpList },
  },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/shard-ddl-locks',
    tag: 'tasks',
    summary: 'shard-ddl-lock: the unresolved pessimistic shard DDL locks, with the shards that have and have not reached them',
    responses: { 200: ShardLockList },
  },
  {
    method: 'post',
    path: '/api/v1/tasks/:name/shard-ddl-locks/unlock',
    tag: 'tasks',
    summary: 'shard-ddl-lock unlock: resolve a lock without waiting for the missing shards (runs its DDL unless force_remove)',
    body: 'unlock',
    responses: { 200: Result },
  },
  {
    method: 'post',
    path: '/api/v1/tasks/:name/validation/start',
    tag: 'tasks',
    summary: "validation start: start (or resume) the continuous validator of the task's sources",
    body: 'validation-start',
    responses: { 200: Result },
  },
  {
    method: 'post',
    path: '/api/v1/tasks/:name/validation/stop',
    tag: 'tasks',
    summary: 'validation stop: stop comparing; changes applied meanwhile are still recorded and compared after the next start',
    body: 'validation-stop',
    responses: { 200: Result },
  },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/validation/status',
    tag: 'tasks',
    summary: "validation status: each source validator's stage, position, processed, pending and error rows",
    query: { table_stage: 'running or stopped: only the tables in that stage' },
    responses: { 200: ValidationStatus },
  },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/validation/errors',
    tag: 'tasks',
    summary: 'validation show-error: the rows the validator found different',
    query: { error: 'unprocessed (default), ignored or all' },
    responses: { 200: ValidationErrorList },
  },
  {
    method: 'post',
    path: '/api/v1/tasks/:name/validation/errors',
    tag: 'tasks',
    summary: 'validation ignore-error, resolve-error, clear-error: mark one error (or all) ignored or resolved, or delete it',
    body: 'validation-error',
    responses: { 200: Result },
  },
  {
    method: 'post',
    path: '/api/v1/tasks/:name/diff',
    tag: 'tasks',
    summary: 'diff: start comparing every replicated table, source(s) against target (a job; follow its report)',
    responses: { 200: DiffStarted },
  },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/diff',
    tag: 'tasks',
    summary: "diff: the last run's report, as it goes and when done: per table, the outcome and the differing rows by key",
    responses: { 200: DiffReportBody },
  },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/diff/fix-sql',
    tag: 'tasks',
    summary: "diff: the last run's fix SQL, statements that make the target equal to the source",
    responses: { 200: FixSql },
  },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/sources/:source/schemas',
    tag: 'tasks',
    summary: "binlog-schema list: the schemas whose tables the source's schema tracker holds",
    responses: { 200: NameList },
  },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/sources/:source/schemas/:schema',
    tag: 'tasks',
    summary: 'binlog-schema list: the tracked tables of a schema',
    responses: { 200: NameList },
  },
  {
    method: 'get',
    path: '/api/v1/tasks/:name/sources/:source/schemas/:schema/:table',
    tag: 'tasks',
    summary: "binlog-schema list: the schema tracker's newest definition of a table, as CREATE TABLE",
    responses: { 200: TrackedTableBody },
  },
  {
    method: 'put',
    path: '/api/v1/tasks/:name/sources/:source/schemas/:schema/:table',
    tag: 'tasks',
    summary: 'binlog-schema update: set the definition rows are decoded with from where the paused task resumes',
    body: 'binlog-schema',
    responses: { 200: BinlogSchemaUpdated },
  },
  {
    method: 'delete',
    path: '/api/v1/tasks/:name/sources/:source/schemas/:schema/:table',
    tag: 'tasks',
    summary: 'binlog-schema delete: untrack the table from where the paused task resumes',
    responses: { 200: Result },
  },
];

/** Error answers and when they come. */
const ERRORS: Record<string, string> = {
  400: 'invalid config or request: `where` names the field',
  401: 'DMQ_TOKEN is set and the request carries neither it nor DMQ_READ_TOKEN',
  403: 'the read-only token on a request that changes something, or a Host or Origin not in DMQ_ALLOWED_HOSTS',
  404: 'unknown task or source (or table the schema tracker does not hold)',
  409: 'the name exists, or the source is in use',
  415: 'a change sent as text/plain or a form, or a POST with neither a body nor X-Requested-By',
  503: 'Redis cannot be reached',
};

/** A POST without a body must show it does not come from a web page (see forgery-guard.ts). */
const clientHeader = {
  name: CLIENT_HEADER,
  in: 'header',
  required: true,
  description: 'any value; required on a POST without a body, where no Content-Type shows that a program sent it',
  schema: { type: 'string' },
};

function jsonSchema(schema: z.ZodType): object {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
}

const requestBodies = {
  source: {
    'application/yaml': { schema: { type: 'string', description: 'source.yaml as DM writes it' } },
    'application/json': { schema: { oneOf: [jsonSchema(openApiRequestSchema), jsonSchema(sourceYamlSchema)] } },
  },
  // Among the components: every schema of api-schemas.ts with an id is.
  binlog: {
    'application/json': { schema: { $ref: '#/components/schemas/BinlogRequest' } },
  },
  unlock: {
    'application/json': { schema: { $ref: '#/components/schemas/UnlockRequest' } },
  },
  'validation-start': {
    'application/json': { schema: { $ref: '#/components/schemas/ValidationStartRequest' } },
  },
  'validation-stop': {
    'application/json': { schema: { $ref: '#/components/schemas/ValidationStopRequest' } },
  },
  'validation-error': {
    'application/json': { schema: { $ref: '#/components/schemas/ValidationErrorRequest' } },
  },
  'binlog-schema': {
    'application/json': { schema: { $ref: '#/components/schemas/BinlogSchemaRequest' } },
  },
  task: {
    'application/yaml': { schema: { type: 'string', description: 'task.yaml as DM writes it' } },
    'application/json': {
      schema: {
        oneOf: [
          jsonSchema(z.object({ task: taskSchema, remove_meta: z.boolean().optional(), start_time: z.string().optional() })),
          jsonSchema(taskSchema),
        ],
      },
    },
  },
};

/** The OpenAPI 3.1 document of /api/v1, built from API_ROUTES and the zod schemas. */
export function openApiDocument(version: string): object {
  const generated = z.toJSONSchema(z.globalRegistry, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Record<string, unknown>> };
  // Inside an OpenAPI document a component is located by its place, not by $id or $schema.
  const schemas = Object.fromEntries(
    Object.entries(generated.schemas).map(([id, schema]) => {
      const { $id: _id, $schema: _schema, ...rest } = schema;
      return [id, rest];
    }),
  );
  const paths: Record<string, Record<string, object>> = {};
  for (const route of API_ROUTES) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...[...route.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(route.query ?? {}).map(([name, description]) => ({
        name,
        in: 'query',
        required: false,
        description,
        schema: { type: 'string' },
      })),
      ...(route.method === 'post' && !route.body ? [clientHeader] : []),
    ];
    const responses: Record<string, object> = {};
    for (const [code, schema] of Object.entries(route.responses)) {
      const id = schema ? z.globalRegistry.get(schema)?.id : undefined;
      responses[code] = schema
        ? {
            description: 'success',
            content: { 'application/json': { schema: id ? { $ref: `#/components/schemas/${id}` } : jsonSchema(schema) } },
          }
        : { description: 'success, no body' };
    }
    for (const [code, description] of Object.entries(ERRORS)) {
      responses[code] = { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    paths[path] ??= {};
    paths[path][route.method] = {
      summary: route.summary,
      tags: [route.tag],
      operationId: `${route.method}${route.path.replace(/[^a-zA-Z]+(\w)/g, (_, c: string) => c.toUpperCase())}`,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: requestBodies[route.body] } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'dmq API',
      version,
      description:
        'DM-compatible /api/v1 of dmq. With DMQ_TOKEN set, send `Authorization: Bearer <token>` (DMQ_READ_TOKEN serves GET only). Bodies are application/yaml or application/json; text/plain and forms are refused.',
    },
    components: {
      schemas,
      securitySchemes: { token: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ token: [] }, {}],
    paths,
  };
}

/** The answer schema a route declares for a status code: errors share one. */
export function responseSchema(method: string, path: string, status: number): z.ZodType | null | undefined {
  if (status >= 400) return ErrorBody;
  const route = API_ROUTES.find((r) => r.method === method.toLowerCase() && r.path === path);
  return route?.responses[status as 200 | 201 | 204];
}
