import type { DbEndpoint, InstanceConfig, SourceConfig, TableRef, TaskConfig } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import { makeRouter } from '../../shared/filter/route.js';
import type { TargetDialect } from '../../shared/ddl/target-dialect.js';
import { withConnection } from '../../shared/sql/connect.js';
import { SOURCE_SESSION, TARGET_SESSION } from '../../shared/sql/pools.js';
import { readDialect } from '../../shared/sql/target-facts.js';
import { serverFacts, sourceFacts } from './facts.js';
import type { Finding, Item } from './check.js';
import { CONFIG_ITEMS } from './config-items.js';
import { SOURCE_ITEMS } from './items.js';
import { SHARD_ITEMS, type ShardContext } from './shard-items.js';
import { TARGET_ITEMS } from './target-items.js';
import type { CheckResult, CheckState, PrecheckResult } from '../../shared/task/precheck-result.js';
import { shardGroups, type ShardGroup, type SourceTables } from './shards.js';
import type { TableFacts } from './tables.js';

interface PrecheckInput {
  task: TaskConfig;
  /** Registered sources by source-id. */
  sources: Map<string, SourceConfig>;
}

type Unnumbered = Omit<CheckResult, 'id'>;

interface Where {
  sourceId?: string;
  address?: string;
}

interface SourceOutcome {
  instance: InstanceConfig;
  results: Unnumbered[];
  tables: TableRef[];
  facts?: TableFacts[];
  /** Why this source's columns are unknown, when the shard checks needed them. */
  unread?: string;
}

const CONNECTIVITY = 'connectivity';

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // A DmqError's message starts with where it happened, which the result already says.
  if (err instanceof DmqError && err.where && err.message.startsWith(`${err.where}: `)) return err.message.slice(err.where.length + 2);
  return err.message;
}

function toResult(name: string, desc: string, where: Where, finding: Finding): Unnumbered {
  const state: CheckState = finding.errors.some((e) => e.severity === 'fail') ? 'fail' : finding.errors.length > 0 ? 'warn' : 'success';
  const result: Unnumbered = { name, desc, state, ...where, errors: finding.errors };
  if (finding.instruction) result.instruction = finding.instruction;
  if (finding.extra) result.extra = finding.extra;
  return result;
}

/** An item that cannot be checked (a query denied, a server gone) is reported, never thrown. */
async function runItem<C>(item: Item<C>, ctx: C, where: Where): Promise<Unnumbered> {
  let finding: Finding;
  try {
    finding = await item.run(ctx);
  } catch (err) {
    finding = { errors: [{ severity: item.severity, shortErr: `could not check: ${errorText(err)}` }] };
  }
  return toResult(item.name, item.desc, where, finding);
}

function connectivity(desc: string, where: Where, err?: unknown): Unnumbered {
  if (err === undefined) return toResult(CONNECTIVITY, desc, where, { errors: [] });
  const finding: Finding = { errors: [{ severity: 'fail', shortErr: errorText(err) }] };
  if (err instanceof DmqError && err.workaround) finding.instruction = err.workaround;
  return toResult(CONNECTIVITY, desc, where, finding);
}

const addressOf = (endpoint: DbEndpoint) => `${endpoint.host}:${endpoint.port}`;

async function checkSource(
  task: TaskConfig,
  instance: InstanceConfig,
  source: SourceConfig | undefined,
  wanted: <C>(item: Item<C>) => boolean,
  needTables: { refs: boolean; facts: boolean },
): Promise<SourceOutcome> {
  const desc = 'dmq can log in to the source';
  if (!source) {
    const missing = new DmqError('SOURCE_NOT_FOUND', `source ${JSON.stringify(instance.sourceId)} is not registered`, {
      workaround: 'register it first: dmq operate-source create source.yaml (or POST /api/v1/sources)',
    });
    return { instance, results: [connectivity(desc, { sourceId: instance.sourceId }, missing)], tables: [] };
  }
  const where = { sourceId: instance.sourceId, address: addressOf(source.from) };
  try {
    const options = {
      label: `source ${JSON.stringify(instance.sourceId)}`,
      role: 'source' as const,
      session: SOURCE_SESSION,
      timeZone: task.timezone,
    };
    return await withConnection(source.from, options, async (conn) => {
      const facts = sourceFacts(conn, task, instance);
      const ctx = { task, instance, source, facts };
      const results = [
        connectivity(desc, where),
        ...(await Promise.all(SOURCE_ITEMS.filter(wanted).map((item) => runItem(item, ctx, where)))),
      ];
      const outcome: SourceOutcome = { instance, results, tables: [] };
      if (needTables.refs) outcome.tables = await facts.tables().catch(() => []);
      if (needTables.facts) {
        try {
          outcome.facts = await facts.tableFacts();
        } catch (err) {
          outcome.unread = `source ${JSON.stringify(instance.sourceId)}: ${errorText(err)}`;
        }
      }
      return outcome;
    });
  } catch (err) {
    return { instance, results: [connectivity(desc, where, err)], tables: [] };
  }
}

async function checkTarget(
  task: TaskConfig,
  wanted: <C>(item: Item<C>) => boolean,
  schemas: () => Promise<string[]>,
  tables: () => Promise<TableFacts[]>,
): Promise<Unnumbered[]> {
  const desc = 'dmq can log in to the target';
  const where = { address: addressOf(task.target) };
  // dmq's own session only: the operator's variables are what the target_session item checks,
  // and one the target lacks would fail this connection before any item could say so.
  const options = { label: 'target', role: 'target' as const, session: TARGET_SESSION, timeZone: task.timezone };
  try {
    return await withConnection(task.target, options, async (conn) => {
      let dialect: Promise<TargetDialect> | undefined;
      const ctx = { task, facts: serverFacts(conn), schemas, tables, dialect: () => (dialect ??= readDialect(conn)) };
      return [connectivity(desc, where), ...(await Promise.all(TARGET_ITEMS.filter(wanted).map((item) => runItem(item, ctx, where))))];
    });
  } catch (err) {
    return [connectivity(desc, where, err)];
  }
}

function targetSchemas(task: TaskConfig, outcomes: SourceOutcome[]): string[] {
  const schemas = new Set([task.metaSchema]);
  for (const { instance, tables } of outcomes) {
    const route = makeRouter(instance.routes, task.caseSensitive);
    for (const t of tables) schemas.add(route(t.schema, t.table).schema);
  }
  return [...schemas];
}

/** Shard items say nothing useful about a task that merges no tables, unless they have an error to report. */
function mergesAnything(ctx: ShardContext): boolean {
  try {
    return ctx.groups().length > 0 || ctx.unread.length > 0;
  } catch {
    return true;
  }
}

/**
 * DM's check-task: every item against every source and the target. Sources are checked in
 * parallel, each over one connection; the target over one more.
 */
export async function runPrecheck(input: PrecheckInput): Promise<PrecheckResult> {
  const { task, sources } = input;
  const ignored = new Set(task.ignoreCheckingItems.map((name) => name.toLowerCase()));
  const wanted = <C>(item: Item<C>) =>
    !ignored.has('all') &&
    !ignored.has(item.name.toLowerCase()) &&
    (item.modes?.includes(task.taskMode) ?? true) &&
    (item.needed?.(task) ?? true);
  const shardItems = SHARD_ITEMS.filter(wanted);
  const targetWants = (name: string) => TARGET_ITEMS.some((item) => item.name === name && wanted(item));
  const needTables = {
    refs: targetWants('target_privilege'),
    facts: shardItems.length > 0 || targetWants('target_compatibility') || targetWants('expression_filter'),
  };

  const sourceRuns = Promise.all(
    task.instances.map((instance) => checkSource(task, instance, sources.get(instance.sourceId), wanted, needTables)),
  );
  const targetRun = checkTarget(
    task,
    wanted,
    async () => targetSchemas(task, await sourceRuns),
    async () => (await sourceRuns).flatMap((o) => o.facts ?? []),
  );
  const [outcomes, targetResults] = await Promise.all([sourceRuns, targetRun]);

  const configResults = await Promise.all(CONFIG_ITEMS.filter(wanted).map((item) => runItem(item, { task, sources }, {})));
  const results = [...configResults, ...outcomes.flatMap((o) => o.results), ...targetResults];
  if (shardItems.length > 0) {
    const read: SourceTables[] = outcomes.flatMap((o) => (o.facts ? [{ instance: o.instance, tables: o.facts }] : []));
    let groups: ShardGroup[] | undefined;
    const ctx: ShardContext = {
      groups: () => (groups ??= shardGroups(read, task.caseSensitive)),
      unread: outcomes.flatMap((o) => (o.unread ? [o.unread] : [])),
    };
    if (mergesAnything(ctx)) results.push(...(await Promise.all(shardItems.map((item) => runItem(item, ctx, {})))));
  }
  const numbered = results.map((r, i) => ({ id: i + 1, ...r }));
  return { passed: !numbered.some((r) => r.state === 'fail'), results: numbered };
}
