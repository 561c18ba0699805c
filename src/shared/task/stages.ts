import type { TaskMode } from '../config/types.js';
import type { SourceTaskState, TaskState, TaskUnit } from '../state/registry.js';

/**
 * The one list of stages, as DM keeps it in `createRealUnits`: which units each task mode runs,
 * in order, and which queues do each unit's work. Every move of a source to its next unit goes
 * through `advance`, and the worker runtime finds a queue's handler through `queueKindOf`.
 */

/** The kinds of queue dmq runs; each belongs to one unit. */
export type QueueKind = 'precheck' | 'plan' | 'dump' | 'load' | 'apply';

interface UnitRecord {
  /** The queues whose jobs do this unit's work. */
  queues: readonly QueueKind[];
  /** What the unit does, for docs and logs. */
  does: string;
}

export const UNITS: Readonly<Record<TaskUnit, UnitRecord>> = {
  Check: {
    queues: ['precheck', 'plan'],
    does: "DM's precheck items against each source and the target; then, for a copy, each table planned into chunks",
  },
  Dump: { queues: ['dump'], does: 'read each chunk from the source, between two binlog watermarks' },
  Load: { queues: ['load'], does: 'write each chunk into the target with its checkpoint' },
  Sync: { queues: ['apply'], does: 'read the binlog (one reader per source) and apply its batches per table, exactly once' },
};

/**
 * The units each mode runs, in order. `load` loads the chunks an earlier `dump` run left. `full`
 * replays the binlog written during the copy (Sync) only when the plan found it replayable, then
 * finishes at the copy's high watermark.
 */
const MODE_UNITS: Readonly<Record<TaskMode, readonly TaskUnit[]>> = {
  all: ['Check', 'Dump', 'Load', 'Sync'],
  full: ['Check', 'Dump', 'Load', 'Sync'],
  incremental: ['Check', 'Sync'],
  dump: ['Check', 'Dump'],
  load: ['Check', 'Load'],
};

export const runsUnit = (mode: TaskMode, unit: TaskUnit): boolean => MODE_UNITS[mode].includes(unit);
export const modesRunning = (unit: TaskUnit): TaskMode[] => (Object.keys(MODE_UNITS) as TaskMode[]).filter((m) => runsUnit(m, unit));

/**
 * Modes whose binlog dmq reads: `all` and `incremental` follow it for good; `full` replays what
 * the source wrote during the copy, up to the copy's high watermark, and then finishes.
 */
export const readsBinlog = (mode: TaskMode): boolean => runsUnit(mode, 'Sync');
/** Modes that dump or load tables, so the precheck is followed by a plan; `incremental` only replicates. */
export const copies = (mode: TaskMode): boolean => runsUnit(mode, 'Dump') || runsUnit(mode, 'Load');
/** Modes that copy first and then hand each table over to binlog replay at the low watermark. */
export const replaysAfterCopy = (mode: TaskMode): boolean => copies(mode) && runsUnit(mode, 'Sync');
/** `task-mode: dump` stops at the chunk files; every other copying mode loads them. */
export const loadsAfterDump = (mode: TaskMode): boolean => runsUnit(mode, 'Load');

/** The queue kinds a mode runs, in unit order; only a copy is planned. */
export function queueKindsOf(mode: TaskMode): QueueKind[] {
  return MODE_UNITS[mode].flatMap((unit) => UNITS[unit].queues).filter((kind) => kind !== 'plan' || copies(mode));
}

/** A queue's kind from its name: fixed names for precheck and plan, `<kind>.<task>...` for the rest. */
export function queueKindOf(queueName: string): QueueKind | undefined {
  const kind = queueName.split('.')[0];
  return Object.values(UNITS).some((u) => (u.queues as readonly string[]).includes(kind ?? '')) ? (kind as QueueKind) : undefined;
}

/**
 * The unit after `unit` in this mode, or Finished. `replays: false` is a full-mode source whose
 * binlog cannot be replayed (see the plan job): it finishes after Load.
 */
export function nextUnit(mode: TaskMode, unit: TaskUnit, options: { replays?: boolean } = {}): TaskUnit | 'Finished' {
  const units = MODE_UNITS[mode];
  const next = units[units.indexOf(unit) + 1];
  if (next === undefined || (next === 'Sync' && mode === 'full' && options.replays === false)) return 'Finished';
  return next;
}

/**
 * Moves a running source from `from` to its next unit (or finishes it), if it is still at
 * `from`; settles the task's stage. Idempotent, so jobs that race to advance agree.
 * Returns whether the source moved.
 */
export function advance(
  state: TaskState,
  mode: TaskMode,
  sourceId: string,
  from: TaskUnit,
  now: number,
  options: { replays?: boolean } = {},
): boolean {
  const s: SourceTaskState | undefined = state.sources[sourceId];
  if (s?.stage !== 'Running' || s.unit !== from) return false;
  const next = nextUnit(mode, from, options);
  if (next === 'Finished') {
    s.stage = 'Finished';
    // A finished full task reads as DM prints it: its last unit is Load, even after its replay.
    if (from === 'Sync' && runsUnit(mode, 'Load')) s.unit = 'Load';
  } else {
    s.unit = next;
    s.unitStartedAt = now;
  }
  settleTaskStage(state, now);
  return true;
}

/** The task's stage follows its sources': Finished when all are, Paused when the rest are. */
export function settleTaskStage(state: TaskState, now: number): void {
  const stages = Object.values(state.sources).map((s) => s.stage);
  if (stages.every((s) => s === 'Finished')) {
    state.stage = 'Finished';
    state.finishedAt = now;
  } else if (stages.every((s) => s === 'Finished' || s === 'Paused') && stages.includes('Paused')) {
    state.stage = 'Paused';
  }
}
