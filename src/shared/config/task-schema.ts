import { z } from 'zod';
import type { ConfigNotice } from './types.js';
import { securitySchema } from './security.js';
import { GtidSetSyntaxError, parseGtidSet } from '../binlog/gtid-set.js';
import {
  describeEmptyOnly,
  describeIgnored,
  emptyOnlyShape,
  flag,
  ignoredKeysSet,
  ignoredShape,
  list,
  namedMap,
  nonEmptyText,
  nonNegativeInt,
  oneOf,
  port,
  positiveInt,
  quotedInt,
  strict,
  text,
  zeroAsUnset,
  type IgnoredKey,
} from './fields.js';
import { GO_DURATION, RAM_SIZE } from './units.js';

/**
 * The shape of DM's task.yaml (kebab-case keys, as DM writes them). Only shape and types here;
 * cross-references, defaults and extra-args live in ./task.ts.
 */

const IGNORED_TOP = {
  'enable-heartbeat': 'deprecated in DM; dmq measures lag from binlog event timestamps',
  'heartbeat-update-interval': 'deprecated in DM; dmq measures lag from binlog event timestamps',
  'heartbeat-report-interval': 'deprecated in DM; dmq measures lag from binlog event timestamps',
  'remove-meta': 'deprecated in DM; use `dmq start-task --remove-meta`',
  'strict-optimistic-shard-mode': 'DM optimistic-mode option; dmq applies shard-mode as written',
  collation_compatible: "DM option for adding collations to CREATE statements; dmq uses DM's default (loose)",
  'online-ddl-scheme': 'deprecated in DM (replaced by online-ddl)',
  'status-schema': 'DM 1.0 key; dmq keeps its state in meta-schema',
  'ansi-quotes': 'deprecated in DM',
  'enable-ansi-quotes': 'deprecated in DM',
  experimental: 'DM experimental switches (async-checkpoint-flush); dmq checkpoints in the same transaction as the data',
};

const EMPTY_ONLY_TOP = {
  'column-mappings': 'column mapping rewrites values (deprecated in DM)',
};

const EMPTY_ONLY_INSTANCE = {
  'column-mapping-rules': 'column mapping rewrites values (deprecated in DM)',
};

const IGNORED_TARGET = {
  'max-allowed-packet': 'deprecated in DM; the driver negotiates it',
};

const IGNORED_MYDUMPER = {
  'mydumper-path': 'dmq has no dumper binary',
  'statement-size': 'dmq writes chunk files, not INSERT statements',
  'skip-tz-utc': "dmq reads and writes TIMESTAMP values in the task's timezone (UTC when unset) at both ends",
};

const EMPTY_ONLY_MYDUMPER = {
  where: 'dmq copies whole tables; narrow with block-allow-list instead',
};

const IGNORED_LOADER = {
  'import-mode': 'dmq always loads logically (batched INSERT/REPLACE)',
  'on-duplicate-physical': 'physical import mode is not supported',
  'disk-quota-physical': 'physical import mode is not supported',
  'checksum-physical': 'physical import mode is not supported',
  analyze: 'physical import mode is not supported',
  'range-concurrency': 'physical import mode is not supported',
  'compress-kv-pairs': 'physical import mode is not supported',
  'pd-addr': 'physical import mode is not supported',
  'sorting-dir-physical': 'physical import mode is not supported',
};

const IGNORED_SYNCER = {
  'meta-file': 'deprecated in DM',
  'queue-size': 'dmq bounds its backlog in Redis instead',
  'checkpoint-flush-interval': 'dmq checkpoints in the same transaction as each batch',
  'max-retry': 'deprecated in DM',
  'auto-fix-gtid': 'deprecated in DM',
  'enable-gtid': 'set enable-gtid in source.yaml',
  'disable-detect': 'deprecated in DM',
  'enable-ansi-quotes': 'deprecated in DM',
};

/** Every DM task.yaml key dmq accepts without acting on it, with the reason. */
export const ACCEPTED_IGNORED_TASK_KEYS: readonly IgnoredKey[] = [
  ...describeIgnored('', IGNORED_TOP),
  ...describeEmptyOnly('', EMPTY_ONLY_TOP),
  ...describeIgnored('target-database.', IGNORED_TARGET),
  ...describeEmptyOnly('mysql-instances[].', EMPTY_ONLY_INSTANCE),
  ...describeIgnored('mydumpers.<name>.', IGNORED_MYDUMPER),
  ...describeEmptyOnly('mydumpers.<name>.', EMPTY_ONLY_MYDUMPER),
  ...describeIgnored('loaders.<name>.', IGNORED_LOADER),
  ...describeIgnored('syncers.<name>.', IGNORED_SYNCER),
];

const MEGABYTES_ERROR = 'expected a size in MB, such as 64 (0: no limit)';

// DM declares chunk-filesize as a string ("64"); plain numbers are as common in the wild. 0 is
// dumpling's "no size limit".
const megabytes = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(v) ? Number(v) : v),
  z.number({ error: MEGABYTES_ERROR }).nonnegative({ error: MEGABYTES_ERROR }),
);

const mydumperSchema = strict(
  {
    threads: positiveInt().optional(),
    'chunk-filesize': megabytes.optional(),
    rows: nonNegativeInt().optional(),
    'extra-args': text().optional(),
  },
  { ...ignoredShape(IGNORED_MYDUMPER), ...emptyOnlyShape(EMPTY_ONLY_MYDUMPER) },
);

const onDuplicate = oneOf(['replace', 'error', 'ignore']);

const loaderSchema = strict(
  {
    'pool-size': positiveInt().optional(),
    dir: text().optional(),
    'on-duplicate-logical': zeroAsUnset(onDuplicate, ''),
    'on-duplicate': zeroAsUnset(onDuplicate, ''),
  },
  ignoredShape(IGNORED_LOADER),
);

const DURATION_ERROR = 'expected a Go duration such as "60s" or "1m30s"';

const goDuration = () => zeroAsUnset(text().pipe(z.string().regex(GO_DURATION, { error: DURATION_ERROR })), '');

const syncerSchema = strict(
  {
    'worker-count': positiveInt().optional(),
    batch: positiveInt().optional(),
    'safe-mode': flag().optional(),
    'safe-mode-duration': goDuration(),
    compact: flag().optional(),
    'multiple-rows': flag().optional(),
  },
  ignoredShape(IGNORED_SYNCER),
);

const RAM_SIZE_ERROR = 'expected a size such as "500m", "1g" or "64MiB"';

const validatorSchema = strict({
  mode: zeroAsUnset(oneOf(['full', 'fast', 'none']), ''),
  'worker-count': zeroAsUnset(positiveInt(), 0),
  'validate-interval': goDuration(),
  'check-interval': goDuration(),
  'row-error-delay': goDuration(),
  'meta-flush-interval': goDuration(),
  'batch-query-size': zeroAsUnset(positiveInt(), 0),
  'max-pending-row-size': zeroAsUnset(text().pipe(z.string().regex(RAM_SIZE, { error: RAM_SIZE_ERROR })), ''),
  'max-pending-row-count': zeroAsUnset(positiveInt(), 0),
  'start-time': zeroAsUnset(text(), ''),
});

const tableRuleSchema = strict({ 'db-name': nonEmptyText(), 'tbl-name': nonEmptyText() });

const blockAllowSchema = strict({
  'do-dbs': list(nonEmptyText()).optional(),
  'ignore-dbs': list(nonEmptyText()).optional(),
  'do-tables': list(tableRuleSchema).optional(),
  'ignore-tables': list(tableRuleSchema).optional(),
});

const routeSchema = strict({
  'schema-pattern': nonEmptyText(),
  'table-pattern': text().optional(),
  'target-schema': text().optional(),
  'target-table': text().optional(),
  'extract-table': strict({ 'table-regexp': nonEmptyText(), 'target-column': nonEmptyText() }).optional(),
  'extract-schema': strict({ 'schema-regexp': nonEmptyText(), 'target-column': nonEmptyText() }).optional(),
  'extract-source': strict({ 'source-regexp': nonEmptyText(), 'target-column': nonEmptyText() }).optional(),
});

export const filterSchema = strict({
  'schema-pattern': nonEmptyText(),
  'table-pattern': text().optional(),
  events: list(nonEmptyText()).optional(),
  'sql-pattern': list(nonEmptyText()).optional(),
  action: nonEmptyText(),
});

const expressionFilterSchema = strict({
  schema: nonEmptyText(),
  table: nonEmptyText(),
  'insert-value-expr': text().optional(),
  'update-old-value-expr': text().optional(),
  'update-new-value-expr': text().optional(),
  'delete-value-expr': text().optional(),
});

const startPositionSchema = strict({
  'binlog-name': text().optional(),
  'binlog-pos': quotedInt(nonNegativeInt()).optional(),
  'binlog-gtid': text()
    .superRefine((value, ctx) => {
      try {
        parseGtidSet(value);
      } catch (err) {
        if (!(err instanceof GtidSetSyntaxError)) throw err;
        ctx.addIssue({
          code: 'custom',
          message: `is not a GTID set: ${err.message} (MySQL: uuid:1-100,uuid2:1-5; MariaDB: domain-server-sequence, e.g. 0-1-100)`,
        });
      }
    })
    .optional(),
});

const ruleNames = list(nonEmptyText());

const instanceSchema = strict(
  {
    'source-id': nonEmptyText(),
    meta: startPositionSchema.optional(),
    'route-rules': ruleNames.optional(),
    'filter-rules': ruleNames.optional(),
    'expression-filters': ruleNames.optional(),
    'block-allow-list': zeroAsUnset(nonEmptyText(), ''),
    'black-white-list': zeroAsUnset(nonEmptyText(), ''),
    'mydumper-config-name': zeroAsUnset(nonEmptyText(), ''),
    mydumper: mydumperSchema.optional(),
    'mydumper-thread': zeroAsUnset(positiveInt(), 0),
    'loader-config-name': zeroAsUnset(nonEmptyText(), ''),
    loader: loaderSchema.optional(),
    'loader-thread': zeroAsUnset(positiveInt(), 0),
    'syncer-config-name': zeroAsUnset(nonEmptyText(), ''),
    syncer: syncerSchema.optional(),
    'syncer-thread': zeroAsUnset(positiveInt(), 0),
    'validator-config-name': zeroAsUnset(nonEmptyText(), ''),
  },
  emptyOnlyShape(EMPTY_ONLY_INSTANCE),
);

const sessionValue = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' });

const targetSchema = strict(
  {
    host: nonEmptyText(),
    port: port().optional(),
    user: nonEmptyText(),
    password: text().optional(),
    session: z.record(z.string(), sessionValue, { error: 'expected a mapping of session variables' }).optional(),
    security: securitySchema.optional(),
  },
  ignoredShape(IGNORED_TARGET),
);

export const taskSchema = strict(
  {
    name: nonEmptyText(),
    'task-mode': oneOf(['full', 'incremental', 'all', 'dump', 'load']),
    'shard-mode': oneOf(['', 'pessimistic', 'optimistic']).optional(),
    'is-sharding': flag().optional(),
    'meta-schema': nonEmptyText().optional(),
    timezone: text().optional(),
    'case-sensitive': flag().optional(),
    'online-ddl': flag().optional(),
    'shadow-table-rules': list(nonEmptyText()).optional(),
    'trash-table-rules': list(nonEmptyText()).optional(),
    'clean-dump-file': flag().optional(),
    'ignore-checking-items': z
      .union([z.string(), z.array(z.string())], { error: 'expected a list of check item names, or "all"' })
      .optional(),
    'target-database': targetSchema,
    'mysql-instances': list(instanceSchema).min(1, { error: 'needs at least one instance' }),
    'block-allow-list': namedMap(blockAllowSchema).optional(),
    'black-white-list': namedMap(blockAllowSchema).optional(),
    routes: namedMap(routeSchema).optional(),
    filters: namedMap(filterSchema).optional(),
    'expression-filter': namedMap(expressionFilterSchema).optional(),
    mydumpers: namedMap(mydumperSchema).optional(),
    loaders: namedMap(loaderSchema).optional(),
    syncers: namedMap(syncerSchema).optional(),
    validators: namedMap(validatorSchema).optional(),
  },
  { ...ignoredShape(IGNORED_TOP), ...emptyOnlyShape(EMPTY_ONLY_TOP) },
);

export type RawTask = z.output<typeof taskSchema>;

/** Every ignored key the task sets, wherever DM allows it. */
export function ignoredTaskFields(raw: RawTask): ConfigNotice[] {
  const target = raw['target-database'];
  const named = <T>(section: string, map: Record<string, T> | undefined, keys: Record<string, string>) =>
    Object.entries(map ?? {}).flatMap(([name, value]) => ignoredKeysSet(`${section}.${name}.`, value, keys));
  return [
    ...ignoredKeysSet('', raw, IGNORED_TOP),
    ...ignoredKeysSet('target-database.', target, IGNORED_TARGET),
    ...raw['mysql-instances'].flatMap((inst, i) => [
      ...ignoredKeysSet(`mysql-instances[${i}].mydumper.`, inst.mydumper, IGNORED_MYDUMPER),
      ...ignoredKeysSet(`mysql-instances[${i}].loader.`, inst.loader, IGNORED_LOADER),
      ...ignoredKeysSet(`mysql-instances[${i}].syncer.`, inst.syncer, IGNORED_SYNCER),
    ]),
    ...named('mydumpers', raw.mydumpers, IGNORED_MYDUMPER),
    ...named('loaders', raw.loaders, IGNORED_LOADER),
    ...named('syncers', raw.syncers, IGNORED_SYNCER),
  ];
}
export type RawInstance = RawTask['mysql-instances'][number];
export type RawMydumper = z.output<typeof mydumperSchema>;
export type RawLoader = z.output<typeof loaderSchema>;
export type RawSyncer = z.output<typeof syncerSchema>;
export type RawValidator = z.output<typeof validatorSchema>;
export type RawBlockAllow = z.output<typeof blockAllowSchema>;
export type RawRoute = z.output<typeof routeSchema>;
export type RawFilter = z.output<typeof filterSchema>;
export type RawExpressionFilter = z.output<typeof expressionFilterSchema>;
