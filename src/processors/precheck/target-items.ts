import type { TaskConfig } from '../../shared/config/types.js';
import { collationChange, type TargetDialect, typeChange } from '../../shared/ddl/target-dialect.js';
import { quoteId, tableLabel } from '../../shared/sql/quote.js';
import type { CheckError } from '../../shared/task/precheck-result.js';
import { capped, connectionRoom, DUMPING, fail, listed, privilegeFinding, warn, type Item } from './check.js';
import type { ServerFacts } from './facts.js';
import { hasPrivilege } from './grants.js';
import type { TableFacts } from './tables.js';

interface TargetContext {
  task: TaskConfig;
  facts: ServerFacts;
  /** Target schemas the task writes: routed schemas of every migrated table, and the meta schema. */
  schemas(): Promise<string[]>;
  /** What the target accepts in a table definition. */
  dialect(): Promise<TargetDialect>;
  /** Columns of every migrated table, as the sources define them. */
  tables(): Promise<TableFacts[]>;
}

const TARGET_PRIVILEGES = ['CREATE', 'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'ALTER', 'DROP', 'INDEX'];

const targetConnNumber: Item<TargetContext> = {
  name: 'conn_number',
  desc: 'target max_connections leaves room for the load pools',
  severity: 'fail',
  async run({ task, facts }) {
    const pools = task.instances.reduce((sum, i) => sum + i.loader.poolSize, 0);
    return connectionRoom(facts, pools + 2, `loader pool-size ${pools} over ${task.instances.length} instance(s) + 2`);
  },
};

const targetPrivilege: Item<TargetContext> = {
  name: 'target_privilege',
  desc: `target user has ${TARGET_PRIVILEGES.join(', ')} on the target schemas`,
  severity: 'warn',
  async run({ facts, schemas }) {
    const grants = await facts.grants();
    const shortfalls: string[] = [];
    const statements: string[] = [];
    for (const schema of await schemas()) {
      const missing = TARGET_PRIVILEGES.filter((p) => !hasPrivilege(grants, p, schema, '*'));
      if (missing.length === 0) continue;
      shortfalls.push(`${grants.account} lacks ${missing.join(', ')} on ${quoteId(schema)}`);
      statements.push(`GRANT ${missing.join(', ')} ON ${quoteId(schema)}.* TO ${grants.account}`);
    }
    return privilegeFinding(grants, shortfalls, listed(statements, '; '), 'warn');
  },
};

/** The TiDB release dmq's scenario tests run against (scripts/build-tidb.sh). */
const TESTED_TIDB = 'v8.5.6';

/** A TiDB release in the server's version text, `8.0.11-TiDB-v8.5.6` → [8, 5]. */
export function tidbRelease(version: string): [number, number] | undefined {
  const match = /-TiDB-v(\d+)\.(\d+)/i.exec(version);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

const targetVersion: Item<TargetContext> = {
  name: 'version',
  desc: 'target server version is supported',
  severity: 'warn',
  async run({ facts }) {
    const v = await facts.version();
    const release = tidbRelease(v.text);
    // v6.5 is the oldest LTS with the pessimistic READ COMMITTED and new collations dmq relies on.
    if (v.flavor === 'tidb' && (release === undefined || release[0] < 6 || (release[0] === 6 && release[1] < 5))) {
      return {
        errors: [warn(`TiDB ${v.text} is older than v6.5`)],
        instruction: `upgrade the target to a TiDB LTS release (dmq is tested against ${TESTED_TIDB})`,
        extra: v.text,
      };
    }
    return {
      errors: [],
      extra: v.flavor === 'tidb' ? `TiDB ${v.text}` : `${v.flavor} ${v.text}: dmq is tested against TiDB ${TESTED_TIDB} and MariaDB`,
    };
  },
};

/**
 * Not a DM item (DM's table_schema checks this against its own TiDB): what dmq will rewrite
 * in the migrated tables for this target (see adaptDefinition), and what it cannot create.
 */
const targetCompatibility: Item<TargetContext> = {
  name: 'target_compatibility',
  desc: 'the target can hold every migrated column as the source defines it',
  severity: 'fail',
  modes: DUMPING,
  async run({ dialect, tables }) {
    const target = await dialect();
    const errors: CheckError[] = [];
    for (const t of await tables()) {
      for (const c of t.columns) {
        const column = `${tableLabel(t)}.${quoteId(c.name)}`;
        const type = typeChange(c.dataType, target);
        if (type !== undefined) errors.push('refused' in type ? fail(`${column} is ${type.refused}`) : warn(`${column}: ${type.why}`));
        const collation = c.collation === null ? undefined : collationChange(c.collation, target);
        if (collation !== undefined) errors.push(warn(`${column}: ${collation.why}`));
      }
    }
    if (errors.length === 0) return { errors };
    return {
      errors: capped(errors),
      instruction:
        'leave tables with spatial columns out (block-allow-list) or convert the columns on the source; the rewrites listed happen by themselves (docs/tidb.md)',
      extra: `target ${target.version}`,
    };
  },
};

/**
 * Not a DM item: DM sets target-database.session only when the task runs, and an unknown
 * variable (a TiDB one, `tidb_skip_utf8_check`, on a MySQL or MariaDB target) pauses it there.
 */
const targetSession: Item<TargetContext> = {
  name: 'target_session',
  desc: 'the target knows every variable of target-database.session',
  severity: 'fail',
  async run({ task, facts }) {
    const names = Object.keys(task.target.session);
    const known = await facts.sessionVariables(names);
    const unknown = names.filter((name) => !known.has(name.toLowerCase()));
    if (unknown.length === 0) return { errors: [] };
    const v = await facts.version();
    const tidbOnly = v.flavor !== 'tidb' && unknown.some((name) => /^tidb_/i.test(name));
    return {
      errors: unknown.map((name) =>
        fail(
          `target-database.session.${name}: ${v.flavor === 'tidb' ? 'TiDB' : v.flavor} ${v.text} has no such variable${/^tidb_/i.test(name) && v.flavor !== 'tidb' ? ' (it exists only on TiDB)' : ''}`,
        ),
      ),
      instruction: `remove ${listed(unknown)} from target-database.session${tidbOnly ? ', or point the task at a TiDB target' : ''}: every target connection sets them and the task would pause at its first one`,
    };
  },
};

export const TARGET_ITEMS: Item<TargetContext>[] = [targetVersion, targetConnNumber, targetPrivilege, targetCompatibility, targetSession];
