import { z } from 'zod';

/**
 * The bodies /api/v1 answers with. The OpenAPI document is generated from these, and the API
 * tests check real answers against them, so the document cannot drift from the code.
 */

export const ErrorBody = z
  .object({
    error_code: z.string().describe('DM OpenAPI field: the error code'),
    error_msg: z.string().describe('DM OpenAPI field: the message'),
    code: z.string().describe('dmq error code, e.g. CONFIG_INVALID, TASK_NOT_FOUND, UNAUTHORIZED, REDIS_UNAVAILABLE'),
    message: z.string(),
    workaround: z.string().optional().describe('what to do about it'),
    where: z.string().optional().describe('the field path, table, position or address involved'),
    cause: z.string().optional(),
  })
  .meta({ id: 'Error' });

export const Result = z.object({ result: z.boolean(), msg: z.string() }).meta({ id: 'Result' });

const Endpoint = z
  .object({
    host: z.string(),
    port: z.number().int(),
    user: z.string(),
    password: z.literal('******').describe('never shown'),
    security: z
      .object({
        sslCa: z.string().optional().describe('PEM: the CAs the server certificate must chain to'),
        sslCert: z.string().optional().describe('PEM: the client certificate'),
        sslKey: z.literal('******').optional().describe('never shown'),
        certAllowedCn: z.array(z.string()).optional(),
        verifyHostname: z.boolean(),
      })
      .optional()
      .describe('TLS to this server; absent: no TLS'),
  })
  .loose();

export const Source = z
  .object({
    sourceId: z.string(),
    serverId: z.number().int().optional(),
    flavor: z.enum(['mysql', 'mariadb']).optional(),
    enableGtid: z.boolean(),
    enableRelay: z.boolean(),
    from: Endpoint,
  })
  .meta({ id: 'Source' });

export const SourceList = z.object({ total: z.number().int(), data: z.array(Source) }).meta({ id: 'SourceList' });

export const SourceStatus = z
  .object({
    source_name: z.string(),
    connected: z.boolean(),
    version: z.string().optional(),
    flavor: z.enum(['mysql', 'mariadb']).optional(),
    error: z.string().optional(),
  })
  .meta({ id: 'SourceStatus' });

export const Task = z
  .object({
    name: z.string(),
    taskMode: z.enum(['full', 'incremental', 'all', 'dump', 'load']),
    target: Endpoint,
    instances: z.array(z.object({ sourceId: z.string() }).loose()),
  })
  .loose()
  .meta({ id: 'Task', description: 'the normalized task.yaml (passwords masked)' });

const RedisOutage = z.object({
  since: z.string(),
  until: z.string().optional(),
  seconds: z.number(),
  reconnectAttempts: z.number(),
  queueErrors: z.number().describe('errors the queues reported meanwhile, counted instead of logged'),
});

const RedisHealth = z
  .object({
    up: z.boolean(),
    dataLostAt: z.string().optional().describe('when Redis last came back without dmq data: sources and tasks must be submitted again'),
    redis: z.string().describe('Redis as this process reaches it, without password'),
    outages: z.number(),
    outageSeconds: z.number(),
    reconnectAttempts: z.number(),
    current: RedisOutage.optional().describe('the outage going on'),
    lastOutage: RedisOutage.optional(),
  })
  .describe('Redis as the process answering sees it (each dmq process tracks its own)');

export const TaskList = z
  .object({
    total: z.number().int(),
    redis: RedisHealth,
    data: z.array(z.object({ taskName: z.string(), taskStatus: z.string(), sources: z.array(z.string()) })),
  })
  .meta({ id: 'TaskList' });

export const TaskSubmitted = Result.extend({ task: Task }).meta({ id: 'TaskSubmitted' });

export const CheckResult = z
  .object({
    passed: z.boolean(),
    results: z.array(
      z.object({
        id: z.number().int(),
        name: z.string(),
        desc: z.string(),
        state: z.string(),
        sourceId: z.string().optional(),
        address: z.string().optional(),
        errors: z.array(z.object({ severity: z.string(), shortErr: z.string() }).loose()),
        instruction: z.string().optional(),
        extra: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'CheckResult' });

const DmError = z.object({
  ErrCode: z.string(),
  ErrClass: z.string(),
  ErrScope: z.string(),
  ErrLevel: z.string(),
  Message: z.string(),
  RawCause: z.string(),
  Workaround: z.string(),
});

const ValidatorStatus = z
  .object({
    task: z.string(),
    source: z.string(),
    mode: z.enum(['full', 'fast']),
    stage: z.enum(['Running', 'Stopped']),
    validatorBinlog: z.string().describe('every change applied up to this binlog position has been validated'),
    validatorBinlogGtid: z.string(),
    result: z.object({ isCanceled: z.boolean(), errors: z.array(DmError) }).nullable(),
    processedRowsStatus: z.string().describe('insert/update/delete: n/n/n rows validated'),
    pendingRowsStatus: z.string().describe('insert/update/delete: n/n/n rows waiting to be compared'),
    errorRowsStatus: z.string().describe('new/ignored/resolved: n/n/n rows that did not match'),
    cutoverBinlogPos: z.string(),
    cutoverBinlogGtid: z.string(),
    lagSeconds: z.number().describe('age of the oldest applied change not yet validated, on the source clock'),
    pendingRows: z.number(),
    errorRows: z.object({ NewErr: z.number(), IgnoredErr: z.number(), ResolvedErr: z.number() }),
  })
  .meta({ id: 'ValidatorStatus', description: "DM's ValidationStatus of one source" });

const SubTaskStatus = z
  .object({
    name: z.string(),
    stage: z.string(),
    unit: z.enum(['Check', 'Dump', 'Load', 'Sync']),
    result: z.object({ isCanceled: z.boolean(), errors: z.array(DmError) }).nullable(),
    consistency: z.string(),
    dump: z
      .object({
        totalTables: z.number(),
        completedTables: z.number(),
        totalChunks: z.number(),
        completedChunks: z.number(),
        finishedRows: z.number(),
        finishedBytes: z.number(),
        estimateTotalRows: z.number(),
        progress: z.string(),
        bps: z.number(),
      })
      .loose(),
    load: z
      .object({
        finishedRows: z.number(),
        finishedBytes: z.number(),
        totalBytes: z.number(),
        completedTables: z.number(),
        completedChunks: z.number(),
        progress: z.string(),
        metaBinlog: z.string(),
        metaBinlogGTID: z.string(),
        bps: z.number(),
      })
      .loose(),
    sync: z
      .object({
        totalEvents: z.number(),
        masterBinlog: z.string(),
        masterBinlogGtid: z.string(),
        syncerBinlog: z.string(),
        syncerBinlogGtid: z.string(),
        pendingBatches: z.number(),
        pendingTransactions: z.number().optional().describe('source transactions the binlog reader holds until they are applied'),
        recentTps: z.number().optional(),
        synced: z.boolean(),
        secondsBehindMaster: z.number().nullable(),
        readerError: z.string(),
        blockingDDLs: z
          .array(z.string())
          .describe('shard DDLs this source has run that wait for the other shards (pessimistic shard-mode)'),
        unresolvedGroups: z.array(
          z.object({ target: z.string(), DDLs: z.array(z.string()), synced: z.array(z.string()), unsynced: z.array(z.string()) }),
        ),
      })
      .loose()
      .optional(),
    unresolvedDDLLockID: z.string().describe('the shard DDL lock this source waits on, as `dmq shard-ddl-lock` lists it'),
    validation: ValidatorStatus.optional().describe("the source's continuous validator, once enabled"),
    tables: z
      .array(z.object({ table: z.string(), target: z.string(), syncerBinlog: z.string() }))
      .optional()
      .describe('with more=true: every replicated table, its target and the binlog position applied'),
  })
  .loose();

export const TaskStatus = z
  .object({
    result: z.boolean(),
    msg: z.string(),
    stage: z.string(),
    taskMode: z.string(),
    redis: RedisHealth,
    precheck: z.object({ passed: z.boolean(), results: z.array(z.unknown()) }).nullable(),
    diff: z
      .object({
        id: z.string(),
        state: z.enum(['running', 'done', 'failed']),
        startedAt: z.string(),
        finishedAt: z.string().nullable(),
        tables: z.number().int(),
        equal: z.number().int(),
        different: z.number().int(),
        copying: z.number().int(),
        missing: z.number().int(),
        mismatch: z.number().int(),
        failed: z.number().int(),
        rowsCompared: z.number().int(),
        differentRows: z.number().int(),
        error: z.string().nullable(),
      })
      .nullable()
      .describe('the last `dmq diff` in figures (null: none yet); GET /api/v1/tasks/{name}/diff has its rows'),
    sources: z.array(
      z.object({
        result: z.boolean(),
        msg: z.string(),
        sourceStatus: z.object({ source: z.string(), worker: z.string() }).loose(),
        subTaskStatus: z.array(SubTaskStatus),
      }),
    ),
  })
  .meta({ id: 'TaskStatus', description: 'dmctl query-status shape' });

export const BinlogRequest = z
  .object({
    op: z
      .enum(['skip', 'replace', 'inject', 'revert'])
      .describe(
        'skip: write nothing for the batch; replace: write `sqls` instead; inject: run `sqls` before the event; revert: remove an operation not applied yet',
      ),
    binlog_pos: z
      .string()
      .regex(/^.+:\d+(#\d+)?$/, "expected file:pos, as the task's error names it")
      .optional()
      .describe(
        "the position the task's error names (APPLY_REJECTED, DDL_REJECTED, DDL_UNSUPPORTED, EVENT_FILTERED); inject and revert: that position when left out, or the end of a statement ahead",
      ),
    source: z.string().optional().describe('the source the position belongs to (needed when the task has several)'),
    sqls: z.array(z.string().min(1)).optional().describe('replace, inject: the statements, in order'),
  })
  .refine((r) => (r.op !== 'replace' && r.op !== 'inject') || (r.sqls?.length ?? 0) > 0, {
    message: 'replace and inject need at least one statement in sqls',
    path: ['sqls'],
  })
  .refine((r) => (r.op !== 'skip' && r.op !== 'replace') || r.binlog_pos !== undefined, {
    message: "skip and replace need the position the task's error names",
    path: ['binlog_pos'],
  })
  .meta({ id: 'BinlogRequest' });

export const BinlogOpList = z
  .object({
    result: z.boolean(),
    msg: z.string(),
    sources: z.array(z.string()).describe('the sources listed (every source of the task, or the one asked for)'),
    operations: z.array(
      z.object({
        source: z.string(),
        binlogPos: z.string().describe('file:pos of the event the operation acts on'),
        op: z.enum(['skip', 'replace', 'inject']),
        sqls: z.array(z.string()).optional(),
        stage: z.enum(['read', 'apply']).describe('read: the binlog reader acts on it; apply: the applier of the batch'),
      }),
    ),
  })
  .meta({ id: 'BinlogOpList' });

const ShardLockEntry = z.object({
  id: z.string().describe('DM-style lock id: <task>-`schema`.`table`'),
  target: z.object({ schema: z.string(), table: z.string() }),
  seq: z.number().int().describe('which DDL of the merged table this is (1 = the first)'),
  ddl: z.string().describe('the statements the target runs once the lock resolves'),
  state: z.enum(['waiting', 'executing', 'executed', 'unlocked']),
  owner: z.string().nullable().describe('the shard running the DDL, while executing'),
  arrived: z.array(z.string()).describe('shards (source:`schema`.`table`) that ran the DDL and wait'),
  missing: z.array(z.string()).describe('shards that have not run it yet'),
});

export const ShardLockList = z
  .object({
    result: z.boolean(),
    msg: z.string(),
    locks: z.array(ShardLockEntry),
  })
  .meta({ id: 'ShardLockList', description: 'shard-ddl-lock: unresolved pessimistic shard DDL locks' });

export const UnlockRequest = z
  .object({
    lock_id: z.string().min(1).describe('the lock id shard-ddl-lock lists'),
    force_remove: z.boolean().optional().describe('true: resolve the lock without running its DDL on the target'),
  })
  .meta({ id: 'UnlockRequest' });

export const ValidationStatus = z
  .object({
    result: z.boolean(),
    msg: z.string(),
    validators: z.array(ValidatorStatus),
    tableStatuses: z.array(
      z.object({ source: z.string(), srcTable: z.string(), dstTable: z.string(), stage: z.string(), message: z.string() }),
    ),
    worker: z.string(),
  })
  .meta({ id: 'ValidationStatus', description: 'dmctl validation status shape' });

export const ValidationErrorList = z
  .object({
    result: z.boolean(),
    msg: z.string(),
    error: z.array(
      z.object({
        id: z.string(),
        source: z.string(),
        srcTable: z.string(),
        srcData: z.string().describe("the source's row, JSON of column → value"),
        dstTable: z.string(),
        dstData: z.string().describe("the target's row, JSON of column → value; empty when it has none"),
        errorType: z.enum(['Deleted rows exist', 'Expected rows not exist', 'Column data not matched']),
        status: z.enum(['NewErr', 'IgnoredErr', 'ResolvedErr']),
        time: z.string(),
        message: z.string(),
      }),
    ),
  })
  .meta({ id: 'ValidationErrorList', description: 'dmctl validation show-error shape' });

const sourceList = z.array(z.string().min(1)).optional().describe('source ids (default: every source of the task)');

export const ValidationStartRequest = z
  .object({
    mode: z.enum(['full', 'fast']).optional().describe('default: the mode it ran in, else the validator config, else full'),
    start_time: z
      .string()
      .optional()
      .describe("validate only changes written from then on: '2021-10-21 00:01:00' (UTC unless a zone is given)"),
    sources: sourceList,
  })
  .strict()
  .meta({ id: 'ValidationStartRequest' });

export const ValidationStopRequest = z.object({ sources: sourceList }).strict().meta({ id: 'ValidationStopRequest' });

export const ValidationErrorRequest = z
  .object({
    op: z.enum(['ignore', 'resolve', 'clear']).describe('ignore-error, resolve-error or clear-error'),
    id: z.number().int().positive().optional().describe('the error id show-error prints'),
    all: z.boolean().optional().describe('true: every error of the task'),
  })
  .strict()
  .refine((r) => (r.id !== undefined) !== (r.all === true), { message: 'give either id or all: true', path: ['id'] })
  .meta({ id: 'ValidationErrorRequest' });
export const DiffStarted = Result.extend({ id: z.string().describe('the run, as its report names it') }).meta({ id: 'DiffStarted' });

const DiffRow = z.object({
  kind: z.enum(['missing', 'extra', 'changed']).describe('missing from the target, extra on it, or changed'),
  key: z.record(z.string(), z.string().nullable()).describe("the row's key by column (no key: every column); binary as 0x hex"),
  count: z.number().int().describe('copies of the row (above 1 only without a key)'),
});

export const DiffReportBody = z
  .object({
    id: z.string(),
    task: z.string(),
    state: z.enum(['running', 'done', 'failed']),
    startedAt: z.number().describe('ms since the epoch'),
    updatedAt: z.number(),
    finishedAt: z.number().optional(),
    error: z.object({ code: z.string(), message: z.string() }).passthrough().optional(),
    fixStatements: z.number().int(),
    tables: z.array(
      z.object({
        table: z.string().describe('the target table'),
        sources: z.array(z.string()).describe('the source tables merged into it'),
        outcome: z.enum(['pending', 'equal', 'different', 'copying', 'missing', 'mismatch', 'failed']),
        rows: z.number().int().describe('source rows compared'),
        chunks: z.number().int(),
        chunksDone: z.number().int(),
        chunksDifferent: z.number().int(),
        ms: z.number(),
        notes: z.array(z.string()).describe('why it was not compared, or how'),
        differentRows: z.number().int(),
        differences: z.array(DiffRow),
      }),
    ),
  })
  .meta({ id: 'DiffReport' });

export const FixSql = Result.extend({ sql: z.string().describe('statements that make the target equal to the source') }).meta({
  id: 'FixSql',
});

/** DM answers the schema and table lists with a bare array of names. */
export const NameList = z.array(z.string()).meta({ id: 'NameList', description: 'schema or table names' });

export const TrackedTableBody = z
  .object({
    schema_name: z.string(),
    table_name: z.string(),
    schema_create_sql: z.string().describe("the schema tracker's definition of the table, as CREATE TABLE"),
    valid_from: z.string().describe('the binlog position from which it holds (file:pos; ":0" before any position)'),
  })
  .meta({ id: 'TrackedTable', description: "DM's binlog-schema list shape" });

export const BinlogSchemaRequest = z
  .object({
    sql_content: z.string().min(1).optional().describe('one CREATE TABLE statement: the columns as the binlog logs them'),
    from_source: z.boolean().optional().describe("true: the table's definition on the source now (DM's --from-source)"),
    flush: z.boolean().optional().describe("accepted for DM's sake: dmq always records the definition with the checkpoints"),
    sync: z.boolean().optional().describe("accepted for DM's sake: dmq's optimistic shard mode keeps no downstream table info"),
  })
  .strict()
  .meta({ id: 'BinlogSchemaRequest' });

export const BinlogSchemaUpdated = Result.extend({
  valid_from: z.string().describe('the binlog position from which the definition holds: where the reader resumes'),
}).meta({ id: 'BinlogSchemaUpdated' });
