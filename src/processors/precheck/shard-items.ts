import { tableLabel, quoteId } from '../../shared/sql/quote.js';
import { capped, fail, listed, warn, type Item } from './check.js';
import type { CheckError } from '../../shared/task/precheck-result.js';
import { columnDifferences, memberLabel, type ShardGroup } from './shards.js';

export interface ShardContext {
  /** Computed on demand so that a route-rule error fails the shard items, not the whole precheck. */
  groups(): ShardGroup[];
  /** Sources whose columns could not be read, with the reason: their tables were not compared. */
  unread: string[];
}

const shardSchemas: Item<ShardContext> = {
  name: 'schema_of_shard_tables',
  desc: 'source tables merged into one target table have the same columns',
  severity: 'fail',
  async run({ groups, unread }) {
    const errors: CheckError[] = unread.map((why) => warn(`tables not compared: ${why}`));
    for (const { target, members } of groups()) {
      const [first, ...others] = members;
      for (const other of others) {
        const differences = columnDifferences(first!.table, other.table);
        if (differences.length === 0) continue;
        errors.push(
          fail(
            `${memberLabel(other)} and ${memberLabel(first!)} both merge into ${tableLabel(target)} but differ: ${differences.join('; ')}`,
          ),
        );
      }
    }
    if (!errors.some((e) => e.severity === 'fail')) return { errors, extra: `${groups().length} merged target table(s)` };
    return {
      errors: capped(errors),
      instruction: "make the merged tables' columns identical (ALTER TABLE on the odd ones out) or route them to different target tables",
    };
  },
};

const autoIncrementId: Item<ShardContext> = {
  name: 'auto_increment_ID',
  desc: 'source tables merged into one target table do not have colliding auto-increment keys',
  severity: 'warn',
  async run({ groups }) {
    const errors: CheckError[] = [];
    for (const { target, members } of groups()) {
      const withAuto = members.filter((m) => m.table.columns.some((c) => c.autoIncrement));
      if (withAuto.length < 2) continue;
      const columns = [...new Set(withAuto.flatMap((m) => m.table.columns.filter((c) => c.autoIncrement).map((c) => quoteId(c.name))))];
      errors.push(
        warn(
          `${listed(withAuto.map(memberLabel))} merge into ${tableLabel(target)} and have auto-increment column ${columns.join(', ')}: their values may collide`,
        ),
      );
    }
    if (errors.length === 0) return { errors };
    return {
      errors: capped(errors),
      instruction:
        'give the shards disjoint auto-increment ranges (auto_increment_offset/auto_increment_increment), or create the target table first with a key that includes a column filled by extract-table/extract-schema/extract-source in the route rules',
    };
  },
};

export const SHARD_ITEMS: Item<ShardContext>[] = [shardSchemas, autoIncrementId];
