import { createHash } from 'node:crypto';
import type { EncodedChange } from '../../shared/binlog/batch.js';
import type { EncodedValue } from '../../shared/binlog/payload-values.js';

/**
 * How the changes of one table spread over lanes (DM's causality, made a pure function of each
 * row so that a restarted reader assigns the same lanes): `count` lanes chosen by a hash of the
 * key columns at `key`; `guard`: the columns of the table's other unique keys, or 'unknown'.
 */
export interface LanePlan {
  count: number;
  key: number[];
  guard: number[] | 'unknown';
}

/** A change's lane, or a join: it could meet a row of another lane, so every lane waits for it. */
export type LaneChoice = number | 'join';

/**
 * Key values equal under a case- and accent-insensitive collation with PAD SPACE are one key on
 * the target: they must hash alike. Folding too much only puts two keys in one lane, which is safe.
 */
function fold(value: EncodedValue): EncodedValue {
  if (typeof value !== 'string') return value;
  return value.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().trimEnd();
}

export function laneOfKey(values: EncodedValue[], count: number): number {
  return (
    createHash('sha1')
      .update(JSON.stringify(values.map(fold)))
      .digest()
      .readUInt32BE(0) % count
  );
}

const keyValues = (row: EncodedValue[], key: number[]) => key.map((i) => row[i] ?? null);
const same = (a: EncodedValue | undefined, b: EncodedValue | undefined) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Where a change goes. Only a change that keeps its row in one lane and can meet no other row
 * there stays in its lane: with other unique keys, an insert or delete may take or free a value
 * another row wants (a different key, so maybe another lane), as may an update of those columns.
 */
export function chooseLane(change: EncodedChange, plan: LanePlan): LaneChoice {
  if (plan.guard === 'unknown') return 'join';
  const row = (change.before ?? change.after)!;
  const lane = laneOfKey(keyValues(row, plan.key), plan.count);
  if (change.op !== 'update') return plan.guard.length > 0 ? 'join' : lane;
  const after = change.after!;
  if (laneOfKey(keyValues(after, plan.key), plan.count) !== lane) return 'join';
  return plan.guard.some((i) => !same(change.before![i], after[i])) ? 'join' : lane;
}

/**
 * The lane a change had, or would have had, with `count` lanes if it stayed in one: for telling
 * whether lane checkpoints of an earlier run with another lane count already cover it.
 */
export function formerLane(change: EncodedChange, key: number[], count: number): number | undefined {
  const lane = laneOfKey(keyValues((change.before ?? change.after)!, key), count);
  if (change.op === 'update' && laneOfKey(keyValues(change.after!, key), count) !== lane) return undefined;
  return lane;
}

/**
 * The plan of a table with `columns` keyed on `key`, given its unique keys (on the source and the
 * target); undefined: one chain (no key, or one lane). A unique key that holds the whole key
 * cannot make two rows of different keys collide; any other one guards its columns.
 */
export function lanePlan(columns: string[], key: string[], count: number, unique: string[][] | 'unknown'): LanePlan | undefined {
  if (count <= 1 || key.length === 0) return undefined;
  const index = (c: string) => columns.indexOf(c);
  if (key.some((c) => index(c) < 0)) return undefined;
  const plan = { count, key: key.map(index) };
  if (unique === 'unknown') return { ...plan, guard: 'unknown' };
  const guarded = new Set(unique.filter((u) => !key.every((c) => u.includes(c))).flat());
  const guard = [...guarded].map(index);
  // A unique column the rows do not carry (a target-only column): nothing tells its values apart.
  return { ...plan, guard: guard.some((i) => i < 0) ? 'unknown' : guard.sort((a, b) => a - b) };
}
