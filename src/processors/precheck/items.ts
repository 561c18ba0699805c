import type { InstanceConfig, SourceConfig, TableRef, TaskConfig } from '../../shared/config/types.js';
import { quoteId, tableLabel } from '../../shared/sql/quote.js';
import { ER, serverErrno } from '../../shared/sql/server-errors.js';
import {
  capped,
  connectionRoom,
  DUMPING,
  fail,
  joinText,
  listed,
  privilegeFinding,
  REPLICATING,
  warn,
  type Finding,
  type Item,
} from './check.js';
import type { SourceFacts } from './facts.js';
import { hasPrivilege } from './grants.js';
import type { CheckError } from '../../shared/task/precheck-result.js';
import type { BinlogFilters, ServerVersion } from './server.js';
import { describeFilters } from '../../shared/filter/migrated-tables.js';
import { sourceExpressionFilter } from './expression-items.js';
import { retentionFinding } from './retention.js';

export interface SourceContext {
  task: TaskConfig;
  instance: InstanceConfig;
  source: SourceConfig;
  facts: SourceFacts;
}

const schemasOf = (tables: TableRef[]) => [...new Set(tables.map((t) => t.schema))];

function configAdvice(version: ServerVersion, setting: string): string {
  return version.flavor === 'aurora'
    ? `set ${setting} in the DB cluster parameter group and reboot the writer instance`
    : `set ${setting} in the server config and restart`;
}

const version: Item<SourceContext> = {
  name: 'version',
  desc: 'source server version is supported',
  severity: 'warn',
  async run({ source, facts }) {
    const v = await facts.version();
    const supported =
      v.flavor === 'mariadb' ? v.major >= 10 : v.flavor === 'tidb' ? false : (v.major === 5 && v.minor >= 6) || v.major === 8;
    const errors: CheckError[] = [];
    const advice: string[] = [];
    if (!supported) {
      errors.push(warn(`${v.flavor === 'tidb' ? 'TiDB' : 'server'} ${v.text} is not a supported source`));
      advice.push('dmq supports MySQL 5.6–8.x, Aurora MySQL and MariaDB 10.x or later; other versions are untested');
    }
    const isMariadb = v.flavor === 'mariadb';
    if (source.flavor !== undefined && (source.flavor === 'mariadb') !== isMariadb) {
      errors.push(warn(`source.yaml says flavor ${source.flavor} but the server is ${isMariadb ? 'MariaDB' : 'MySQL'} ${v.text}`));
      advice.push(`set flavor: ${isMariadb ? 'mariadb' : 'mysql'} in the source config, since GTIDs and binlog events differ`);
    }
    const finding: Finding = { errors, extra: `${v.flavor} ${v.text}` };
    const instruction = joinText(advice);
    if (instruction) finding.instruction = instruction;
    return finding;
  },
};

const serverId: Item<SourceContext> = {
  name: 'server_id',
  desc: 'source server_id is set and non-zero',
  severity: 'warn',
  modes: REPLICATING,
  async run({ facts }) {
    const id = (await facts.variables()).get('server_id');
    if (id !== undefined && id !== '0') return { errors: [] };
    return {
      errors: [warn(`server_id is ${id ?? 'unset'}: a server without a server_id does not serve its binlog to replicas`)],
      instruction: configAdvice(await facts.version(), 'server_id to a unique non-zero number'),
    };
  },
};

/**
 * A global variable that must have one value for row-based replication to work; `ifAbsent`
 * explains why a server without the variable is fine.
 */
function binlogVariable(variable: string, wanted: string, ifAbsent?: string): Item<SourceContext> {
  return {
    name: variable,
    desc: `source ${variable} is ${wanted}`,
    severity: 'fail',
    modes: REPLICATING,
    async run({ facts }) {
      const value = (await facts.variables()).get(variable);
      if (value === undefined && ifAbsent !== undefined) return { errors: [], extra: ifAbsent };
      if (value?.toUpperCase() === wanted) return { errors: [] };
      return {
        errors: [fail(`${variable} is ${value ?? 'unset'}, must be ${wanted}`)],
        instruction: configAdvice(await facts.version(), `${variable}=${wanted}`),
      };
    },
  };
}

/**
 * Not a DM item. Without column names in the binlog (MINIMAL, the default of MySQL 8 and Aurora
 * MySQL 3; absent on MySQL 5.7) dmq decodes rows with the definitions its schema tracker keeps,
 * as DM does: that works, but FULL lets the binlog itself say each row's columns.
 */
const binlogRowMetadata: Item<SourceContext> = {
  name: 'binlog_row_metadata',
  desc: 'source binlog_row_metadata is FULL, or the schema tracker decodes rows',
  severity: 'warn',
  modes: REPLICATING,
  async run({ facts }) {
    const value = (await facts.variables()).get('binlog_row_metadata');
    if (value?.toUpperCase() === 'FULL') return { errors: [] };
    const setting =
      value === undefined ? 'this server has no binlog_row_metadata (MySQL 5.7, MariaDB before 10.5)' : `binlog_row_metadata is ${value}`;
    return {
      errors: [
        warn(
          `${setting}: the binlog does not name columns, so dmq decodes rows with the table definitions its schema tracker keeps (see \`dmq binlog-schema\`)`,
        ),
      ],
      instruction: `safer: ${configAdvice(await facts.version(), 'binlog_row_metadata=FULL')}, so each row names its own columns and a DDL dmq cannot read never leaves rows decoded with a stale definition; MINIMAL writes a little less binlog and is fine otherwise`,
    };
  },
};

const binlogEnable: Item<SourceContext> = {
  name: 'binlog_enable',
  desc: 'source binary log is enabled',
  severity: 'fail',
  modes: REPLICATING,
  async run({ facts }) {
    const value = (await facts.variables()).get('log_bin');
    if (value === 'ON' || value === '1') return { errors: [] };
    const v = await facts.version();
    return {
      errors: [fail(`log_bin is ${value ?? 'unset'}: the binary log is off, so changes after the copy cannot be replicated`)],
      instruction:
        v.flavor === 'aurora'
          ? "set binlog_format=ROW in the DB cluster parameter group (this turns the binary log on), reboot the writer, and keep binlogs long enough: CALL mysql.rds_set_configuration('binlog retention hours', 24)"
          : 'start the server with log_bin and a non-zero server_id, or use task-mode full',
    };
  },
};

/**
 * Not a DM item: Aurora purges binlogs as soon as no replica holds them unless `binlog retention
 * hours` is set, and any server may expire them before a long copy ends.
 */
const binlogRetention: Item<SourceContext> = {
  name: 'binlog_retention',
  desc: 'source keeps its binlogs for the copy and a day more',
  severity: 'warn',
  modes: REPLICATING,
  async run({ task, facts }) {
    const copyBytes = DUMPING.includes(task.taskMode) ? await facts.dataBytes() : 0;
    return retentionFinding(await facts.retention(), copyBytes);
  },
};

const binlogDb: Item<SourceContext> = {
  name: 'binlog_db',
  desc: 'binlog_do_db / binlog_ignore_db keep every migrated schema in the binlog',
  severity: 'fail',
  modes: REPLICATING,
  async run({ facts }) {
    let filters: BinlogFilters;
    try {
      filters = await facts.binlogFilters();
    } catch (err) {
      // SHOW MASTER STATUS needs REPLICATION CLIENT; replication_privilege already fails for that.
      if (serverErrno(err) !== ER.SPECIFIC_ACCESS_DENIED_ERROR) throw err;
      return {
        errors: [warn(`could not read binlog_do_db / binlog_ignore_db: ${(err as Error).message}`)],
        instruction: 'grant REPLICATION CLIENT (see replication_privilege)',
      };
    }
    const { doDbs, ignoreDbs } = filters;
    const errors: CheckError[] = [];
    for (const schema of schemasOf(await facts.tables())) {
      if (doDbs.length > 0 && !doDbs.includes(schema))
        errors.push(fail(`binlog_do_db (${doDbs.join(', ')}) leaves out migrated schema ${quoteId(schema)}`));
      else if (ignoreDbs.includes(schema)) errors.push(fail(`binlog_ignore_db lists migrated schema ${quoteId(schema)}`));
    }
    if (errors.length === 0) return { errors };
    return {
      errors,
      instruction: configAdvice(await facts.version(), 'binlog-do-db / binlog-ignore-db so that every migrated schema is logged'),
    };
  },
};

const migratedTables: Item<SourceContext> = {
  name: 'migrated_tables',
  desc: 'the block-allow list and mydumper filters select at least one table',
  severity: 'fail',
  async run({ instance, facts }) {
    const tables = await facts.tables();
    if (tables.length > 0) return { errors: [], extra: `${tables.length} table(s) in ${schemasOf(tables).length} schema(s)` };
    return {
      errors: [fail(`no table matches the filters (${describeFilters(instance)})`)],
      instruction:
        'check the block-allow-list and mydumper extra-args (-B, -T) of this instance; the user only sees tables it holds some privilege on',
    };
  },
};

const dumpPrivilege: Item<SourceContext> = {
  name: 'dump_privilege',
  desc: 'source user can SELECT every migrated table',
  severity: 'fail',
  modes: DUMPING,
  async run({ facts }) {
    const grants = await facts.grants();
    const missing = (await facts.tables()).filter((t) => !hasPrivilege(grants, 'SELECT', t.schema, t.table));
    const shortfalls =
      missing.length === 0
        ? []
        : [`${grants.account} lacks SELECT on ${missing.length} migrated table(s): ${listed(missing.map(tableLabel))}`];
    const grantsToRun = schemasOf(missing).map((s) => `GRANT SELECT ON ${quoteId(s)}.* TO ${grants.account}`);
    const finding = privilegeFinding(grants, shortfalls, listed(grantsToRun, '; '), 'fail');
    if (!hasPrivilege(grants, 'RELOAD', '*', '*')) {
      finding.extra = joinText([
        finding.extra,
        'no RELOAD privilege: not needed, dmq copies without a global lock (no FLUSH TABLES WITH READ LOCK)',
      ]);
    }
    return finding;
  },
};

const REPLICATION_PRIVILEGES = ['REPLICATION SLAVE', 'REPLICATION CLIENT'];

const replicationPrivilege: Item<SourceContext> = {
  name: 'replication_privilege',
  desc: 'source user has REPLICATION SLAVE and REPLICATION CLIENT',
  severity: 'fail',
  modes: REPLICATING,
  async run({ facts }) {
    const grants = await facts.grants();
    const missing = REPLICATION_PRIVILEGES.filter((p) => !hasPrivilege(grants, p, '*', '*'));
    const shortfalls = missing.length === 0 ? [] : [`${grants.account} lacks ${missing.join(' and ')} on *.*`];
    return privilegeFinding(grants, shortfalls, `GRANT ${missing.join(', ')} ON *.* TO ${grants.account}`, 'fail');
  },
};

const sourceConnNumber: Item<SourceContext> = {
  name: 'conn_number',
  desc: 'source max_connections leaves room for the dump threads and the binlog reader',
  severity: 'fail',
  async run({ task, instance, facts }) {
    const threads = DUMPING.includes(task.taskMode) ? instance.mydumper.threads : 0;
    const why = threads > 0 ? `mydumper threads ${threads} + 1` : '1 binlog reader';
    return connectionRoom(facts, threads + 1, why);
  },
};

const tableSchema: Item<SourceContext> = {
  name: 'table_schema',
  desc: 'migrated tables have a primary or unique key and no foreign keys',
  severity: 'warn',
  async run({ facts }) {
    const errors: CheckError[] = [];
    for (const t of await facts.tableFacts()) {
      if (t.uniqueKeys.length === 0) {
        errors.push(warn(`${tableLabel(t)} has no primary key and no unique key`));
      } else if (!t.uniqueKeys.some((k) => k.identifiesRows)) {
        errors.push(warn(`${tableLabel(t)} has no primary key and its unique keys allow NULL or cover column prefixes`));
      }
      if (t.foreignKeys.length > 0) errors.push(warn(`${tableLabel(t)} has foreign keys (${listed(t.foreignKeys)})`));
    }
    if (errors.length === 0) return { errors };
    return {
      errors: capped(errors),
      instruction:
        'add a primary key where you can: without one, replicated UPDATE and DELETE must match every column and a resumed copy may duplicate rows; foreign keys are not checked on the target, so rows may arrive in any order',
    };
  },
};

const onlineDdl: Item<SourceContext> = {
  name: 'online_ddl',
  desc: 'no gh-ost or pt-online-schema-change run is under way on a migrated table',
  severity: 'fail',
  modes: REPLICATING,
  needed: (task) => task.onlineDdl,
  async run({ facts }) {
    const runs = await facts.shadowTables();
    if (runs.length === 0) return { errors: [] };
    return {
      errors: capped(
        runs.map(({ shadow, real }) =>
          fail(`shadow table ${tableLabel(shadow)} of ${tableLabel(real)} exists: an online schema change is under way`),
        ),
      ),
      instruction:
        'its ALTER ran before the position replication starts from, so dmq could not carry it to the target at the swap: let the run finish (or drop a shadow table an aborted run left behind), then start the task',
    };
  },
};

export const SOURCE_ITEMS: Item<SourceContext>[] = [
  version,
  serverId,
  binlogEnable,
  binlogVariable('binlog_format', 'ROW'),
  binlogVariable('binlog_row_image', 'FULL', 'no binlog_row_image on this server (MariaDB before 10.1.6): rows are always logged in full'),
  binlogRowMetadata,
  binlogRetention,
  binlogDb,
  migratedTables,
  dumpPrivilege,
  replicationPrivilege,
  sourceConnNumber,
  tableSchema,
  onlineDdl,
  sourceExpressionFilter,
];
