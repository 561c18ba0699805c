import { DmqError } from '../errors.js';
import { ID_PATTERN, ID_RULE, configError, parseShape } from './fields.js';
import { decryptPassword, sealEndpoint, unsealEndpoint } from './password.js';
import { loadTls, NO_TLS_FILES, type TlsFileAccess } from './security.js';
import { dropOtherTxnMode, sessionKey, targetSessionProblems } from './session.js';
import {
  buildBlockAllow,
  buildDumper,
  buildExpressionFilter,
  buildFilter,
  buildLoader,
  buildRoute,
  buildSyncer,
  buildValidator,
} from './task-named.js';
import { ignoredTaskFields, taskSchema, type RawInstance, type RawTask } from './task-schema.js';
import { timeZoneProblem } from '../sql/time-zone.js';
import { DEFAULT_SHADOW_TABLE_RULES, DEFAULT_TRASH_TABLE_RULES, onlineDdlRuleProblem } from '../filter/online-ddl.js';
import type {
  BlockAllowList,
  ConfigNotice,
  DumperConfig,
  EventFilterRule,
  ExpressionFilter,
  InstanceConfig,
  LoaderConfig,
  RouteRule,
  StartPosition,
  SyncerConfig,
  TargetConfig,
  TaskConfig,
  ValidatorConfig,
} from './types.js';
import { loadYaml } from './yaml.js';

export { ACCEPTED_IGNORED_TASK_KEYS } from './task-schema.js';

const WHAT = 'task config';

/**
 * DM's task.yaml text → TaskConfig. Throws DmqError CONFIG_YAML or CONFIG_INVALID. `files`:
 * which TLS files it may name (none by default; see ./security.ts).
 */
export function parseTaskYaml(text: string, files: TlsFileAccess = NO_TLS_FILES): TaskConfig {
  return parseTaskObject(loadYaml(text, 'task.yaml'), files);
}

/** The same for an already-parsed value (a JSON body in task.yaml's kebab-case shape). */
export function parseTaskObject(obj: unknown, files: TlsFileAccess = NO_TLS_FILES): TaskConfig {
  const raw = parseShape(taskSchema, obj, WHAT);
  const issues: string[] = [];
  const task = buildTask(raw, files, issues);
  if (issues.length > 0) throw configError(WHAT, issues);
  return task;
}

/** A JSON-safe copy for persisting, with the target password and TLS private key DM-encrypted. */
export function serializeTaskForStore(task: TaskConfig): object {
  return { ...structuredClone(task), target: sealEndpoint(task.target) };
}

/** The inverse of serializeTaskForStore. */
export function taskFromStore(obj: unknown): TaskConfig {
  const task = obj as TaskConfig;
  if (typeof task?.target?.password !== 'string' || !Array.isArray(task.instances)) {
    throw new DmqError('INTERNAL', 'stored task config is not in the shape serializeTaskForStore writes');
  }
  const copy = structuredClone(task);
  // Tasks stored before notices existed have none.
  copy.notices = (task as Partial<TaskConfig>).notices ?? [];
  // Tasks stored before 0.2 kept the start position under `meta`, as task.yaml names it.
  for (const instance of copy.instances as (InstanceConfig & { meta?: InstanceConfig['startPosition'] })[]) {
    if (instance.meta !== undefined && instance.startPosition === undefined) instance.startPosition = instance.meta;
    delete instance.meta;
    instance.expressionFilters ??= [];
    // Tasks stored before validators existed validate nothing.
    instance.validator ??= buildValidator({}, '', []);
  }
  // Tasks stored before online DDL was handled take DM's default names.
  copy.shadowTableRules ??= DEFAULT_SHADOW_TABLE_RULES;
  copy.trashTableRules ??= DEFAULT_TRASH_TABLE_RULES;
  return { ...copy, target: unsealEndpoint(task.target) };
}

interface Named {
  blockAllow: Map<string, BlockAllowList>;
  /** The top-level key the lists were defined under, for messages. */
  blockAllowSection: string;
  routes: Map<string, RouteRule>;
  filters: Map<string, EventFilterRule>;
  /** Filter rules DM drops (an unknown event): references to them are quietly left out, as in DM. */
  droppedFilters: Set<string>;
  expressionFilters: Map<string, ExpressionFilter>;
  dumpers: Map<string, DumperConfig>;
  loaders: Map<string, LoaderConfig>;
  syncers: Map<string, SyncerConfig>;
  validators: Map<string, ValidatorConfig>;
}

function buildTask(raw: RawTask, files: TlsFileAccess, issues: string[]): TaskConfig {
  if (!ID_PATTERN.test(raw.name)) {
    issues.push(`name: ${JSON.stringify(raw.name)} ${ID_RULE} (dmq uses the task name in queue and table names)`);
  }
  const metaSchema = raw['meta-schema'] ?? 'dm_meta';
  if (metaSchema.length > 64)
    issues.push(`meta-schema: ${JSON.stringify(metaSchema)} is longer than 64 characters, the limit for a schema name`);
  const caseSensitive = raw['case-sensitive'] ?? false;
  const notices = ignoredTaskFields(raw);
  const named = buildNamed(raw, caseSensitive, issues, notices);
  const instances = raw['mysql-instances'].map((inst, i) => buildInstance(inst, `mysql-instances[${i}]`, named, issues));
  checkUniqueSources(raw['mysql-instances'], issues);

  const task: TaskConfig = {
    name: raw.name,
    taskMode: raw['task-mode'],
    shardMode: raw['shard-mode'] || (raw['is-sharding'] ? 'pessimistic' : ''),
    metaSchema,
    caseSensitive,
    onlineDdl: raw['online-ddl'] ?? true,
    shadowTableRules: onlineDdlTableRules(raw, 'shadow-table-rules', DEFAULT_SHADOW_TABLE_RULES, issues),
    trashTableRules: onlineDdlTableRules(raw, 'trash-table-rules', DEFAULT_TRASH_TABLE_RULES, issues),
    cleanDumpFile: raw['clean-dump-file'] ?? true,
    ignoreCheckingItems: checkingItems(raw['ignore-checking-items']),
    target: buildTarget(raw['target-database'], files, issues, notices),
    instances,
    notices,
  };
  const timezone = taskTimeZone(raw.timezone, task.target, notices);
  if (timezone !== undefined) {
    const problem = timeZoneProblem(timezone);
    if (problem) issues.push(`timezone: ${problem}`);
    task.timezone = timezone;
  }
  return task;
}

/** `shadow-table-rules` / `trash-table-rules`: DM's defaults unless given, each rule checked. */
function onlineDdlTableRules(
  raw: RawTask,
  field: 'shadow-table-rules' | 'trash-table-rules',
  defaults: string[],
  issues: string[],
): string[] {
  const rules = raw[field] ?? defaults;
  for (const [i, rule] of rules.entries()) {
    const problem = onlineDdlRuleProblem(rule);
    if (problem) issues.push(`${field}[${i}]: ${problem}`);
  }
  return rules;
}

/**
 * The zone every session of the task runs in. A `time_zone` in target-database.session becomes
 * it when the task names none (both ends must share one zone, or TIMESTAMPs shift); the task's
 * own `timezone` wins over it, as in DM, which overwrites the session variable.
 */
function taskTimeZone(raw: string | undefined, target: TargetConfig, notices: ConfigNotice[]): string | undefined {
  const named = raw === undefined || raw === '' ? undefined : raw;
  const key = sessionKey(target.session, 'time_zone');
  if (key === undefined) return named;
  const session = String(target.session[key]);
  delete target.session[key];
  if (named !== undefined && named !== session) {
    notices.push({
      field: `target-database.session.${key}`,
      note: `overwritten by the task's timezone ${JSON.stringify(named)}, as DM does; every dmq session of the task, source and target, runs in that zone`,
    });
    return named;
  }
  return session;
}

function checkingItems(raw: string | string[] | undefined): string[] {
  const items = typeof raw === 'string' ? [raw] : (raw ?? []);
  return items.map((item) => item.trim().toLowerCase()).filter((item) => item !== '');
}

function buildTarget(raw: RawTask['target-database'], files: TlsFileAccess, issues: string[], notices: ConfigNotice[]): TargetConfig {
  const session = Object.fromEntries(
    Object.entries(raw.session ?? {}).map(([name, value]) => [name, typeof value === 'boolean' ? (value ? 'ON' : 'OFF') : value]),
  );
  notices.push(...dropOtherTxnMode(session, 'target-database.session'));
  const target: TargetConfig = {
    host: raw.host,
    port: raw.port ?? 4000,
    user: raw.user,
    password: decryptPassword(raw.password ?? ''),
    session,
  };
  issues.push(...targetSessionProblems(session, 'target-database.session'));
  const security = loadTls(raw.security, 'target-database.security', files, issues);
  if (security) target.security = security;
  return target;
}

function checkUniqueSources(instances: RawInstance[], issues: string[]): void {
  const seen = new Map<string, number>();
  instances.forEach((inst, i) => {
    const id = inst['source-id'];
    const first = seen.get(id);
    if (first === undefined) seen.set(id, i);
    else {
      issues.push(
        `mysql-instances[${i}].source-id: ${JSON.stringify(id)} is already used by mysql-instances[${first}]; a source may appear in only one instance`,
      );
    }
  });
}

function collect<R, T>(section: string, entries: Record<string, R> | undefined, build: (name: string, raw: R, path: string) => T) {
  return new Map(Object.entries(entries ?? {}).map(([name, raw]) => [name, build(name, raw, `${section}.${name}`)] as const));
}

function buildNamed(raw: RawTask, caseSensitive: boolean, issues: string[], notices: ConfigNotice[]): Named {
  const modern = raw['block-allow-list'] ?? {};
  const legacy = raw['black-white-list'] ?? {};
  const hasModern = Object.keys(modern).length > 0;
  const hasLegacy = Object.keys(legacy).length > 0;
  if (hasModern && hasLegacy) {
    issues.push('black-white-list: set either block-allow-list or black-white-list (its old name), not both');
  }
  const blockAllowSection = hasLegacy && !hasModern ? 'black-white-list' : 'block-allow-list';
  const filters = collect('filters', raw.filters, (name, rule, path) => buildFilter(name, rule, path, caseSensitive, issues, notices));
  return {
    blockAllowSection,
    blockAllow: collect(blockAllowSection, hasModern ? modern : legacy, (_name, list, path) =>
      buildBlockAllow(list, path, caseSensitive, issues),
    ),
    routes: collect('routes', raw.routes, (name, rule, path) => buildRoute(name, rule, path, caseSensitive, issues)),
    filters: new Map([...filters].flatMap(([name, rule]) => (rule ? [[name, rule] as const] : []))),
    droppedFilters: new Set([...filters].flatMap(([name, rule]) => (rule ? [] : [name]))),
    expressionFilters: collect('expression-filter', raw['expression-filter'], (name, filter, path) =>
      buildExpressionFilter(name, filter, path, issues),
    ),
    dumpers: collect('mydumpers', raw.mydumpers, (_name, dumper, path) => buildDumper(dumper, path, issues)),
    loaders: collect('loaders', raw.loaders, (_name, loader, path) => buildLoader(loader, path, issues)),
    syncers: collect('syncers', raw.syncers, (_name, syncer, path) => buildSyncer(syncer, path, issues)),
    validators: collect('validators', raw.validators, (_name, validator, path) => buildValidator(validator, path, issues)),
  };
}

function resolve<T>(name: string | undefined, defined: Map<string, T>, section: string, path: string, issues: string[]): T | undefined {
  if (name === undefined) return undefined;
  const found = defined.get(name);
  if (found === undefined) {
    const names = [...defined.keys()].join(', ') || 'nothing';
    issues.push(`${path}: ${JSON.stringify(name)} is not defined under ${section} (defined: ${names})`);
  }
  return found;
}

function resolveRules<T>(names: string[] | undefined, defined: Map<string, T>, section: string, path: string, issues: string[]): T[] {
  const rules: T[] = [];
  (names ?? []).forEach((name, i) => {
    if (names!.indexOf(name) !== i) {
      issues.push(`${path}[${i}]: ${JSON.stringify(name)} is listed twice`);
      return;
    }
    const rule = resolve(name, defined, section, `${path}[${i}]`, issues);
    if (rule !== undefined) rules.push(rule);
  });
  return rules;
}

/** `<kind>-config-name` or inline `<kind>`, never both; neither gives the defaults. */
function pick<T>(
  kind: 'mydumper' | 'loader' | 'syncer',
  byName: string | undefined,
  inline: T | undefined,
  defined: Map<string, T>,
  path: string,
  issues: string[],
): T | undefined {
  if (byName !== undefined && inline !== undefined) {
    issues.push(`${path}: set either ${kind}-config-name or ${kind}, not both`);
  }
  return inline ?? resolve(byName, defined, `${kind}s`, `${path}.${kind}-config-name`, issues);
}

const BINLOG_FILE = /^.+\.\d+$/;

function buildStartPosition(raw: RawInstance['meta'], path: string, issues: string[]): StartPosition | undefined {
  if (!raw) return undefined;
  const start: StartPosition = {};
  if (raw['binlog-name']) {
    start.binlogName = raw['binlog-name'];
    if (!BINLOG_FILE.test(start.binlogName)) {
      issues.push(`${path}.binlog-name: ${JSON.stringify(start.binlogName)} is not a binlog file name such as mysql-bin.000001`);
    }
  }
  if (raw['binlog-pos'] !== undefined) {
    start.binlogPos = raw['binlog-pos'];
    if (start.binlogName === undefined) issues.push(`${path}.binlog-pos: needs binlog-name`);
  }
  if (raw['binlog-gtid']) start.binlogGtid = raw['binlog-gtid'];
  return Object.keys(start).length > 0 ? start : undefined;
}

function buildInstance(raw: RawInstance, path: string, named: Named, issues: string[]): InstanceConfig {
  const sourceId = raw['source-id'];
  if (!ID_PATTERN.test(sourceId)) {
    issues.push(`${path}.source-id: ${JSON.stringify(sourceId)} ${ID_RULE} (dmq uses source ids in queue names)`);
  }
  if (raw['block-allow-list'] !== undefined && raw['black-white-list'] !== undefined) {
    issues.push(`${path}: set either block-allow-list or black-white-list (its old name), not both`);
  }
  const listKey = raw['block-allow-list'] !== undefined ? 'block-allow-list' : 'black-white-list';
  const blockAllowList = resolve(raw[listKey], named.blockAllow, named.blockAllowSection, `${path}.${listKey}`, issues);

  const inlineDumper = raw.mydumper && buildDumper(raw.mydumper, `${path}.mydumper`, issues);
  const inlineLoader = raw.loader && buildLoader(raw.loader, `${path}.loader`, issues);
  const inlineSyncer = raw.syncer && buildSyncer(raw.syncer, `${path}.syncer`, issues);
  // Named configs are shared between instances and the shorthands below change them: copy.
  const mydumper = {
    ...(pick('mydumper', raw['mydumper-config-name'], inlineDumper, named.dumpers, path, issues) ?? buildDumper({}, path, issues)),
  };
  const loader = {
    ...(pick('loader', raw['loader-config-name'], inlineLoader, named.loaders, path, issues) ?? buildLoader({}, path, issues)),
  };
  const syncer = {
    ...(pick('syncer', raw['syncer-config-name'], inlineSyncer, named.syncers, path, issues) ?? buildSyncer({}, path, issues)),
  };
  // DM: the per-instance shorthands take priority over the named or inline settings.
  if (raw['mydumper-thread'] !== undefined) mydumper.threads = raw['mydumper-thread'];
  if (raw['loader-thread'] !== undefined) loader.poolSize = raw['loader-thread'];
  if (raw['syncer-thread'] !== undefined) {
    syncer.workerCount = raw['syncer-thread'];
    syncer.lanes = raw['syncer-thread'];
  }

  const instance: InstanceConfig = {
    sourceId,
    blockAllowList: blockAllowList ?? null,
    routes: resolveRules(raw['route-rules'], named.routes, 'routes', `${path}.route-rules`, issues),
    filters: resolveRules(
      raw['filter-rules']?.filter((name) => !named.droppedFilters.has(name)),
      named.filters,
      'filters',
      `${path}.filter-rules`,
      issues,
    ),
    expressionFilters: resolveRules(
      raw['expression-filters'],
      named.expressionFilters,
      'expression-filter',
      `${path}.expression-filters`,
      issues,
    ),
    mydumper,
    loader,
    syncer,
    validator: {
      ...(resolve(raw['validator-config-name'], named.validators, 'validators', `${path}.validator-config-name`, issues) ??
        buildValidator({}, path, issues)),
    },
  };
  const startPosition = buildStartPosition(raw.meta, `${path}.meta`, issues);
  if (startPosition) instance.startPosition = startPosition;
  return instance;
}
