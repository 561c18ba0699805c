import type { Redis } from 'ioredis';
import type { InstanceConfig, ValidationMode } from '../config/types.js';
import type { ErrorRecord } from '../errors.js';

/**
 * Whether a source's validator runs, as the task's validator config starts it and `dmq
 * validation start|stop` changes it. Once enabled, the applier records every change it makes
 * for validation, also while the validator is stopped: as DM's validator resumes from its own
 * binlog position, `validation start` then checks what changed in between.
 */
export interface ValidationState {
  stage: 'Running' | 'Stopped';
  mode: Exclude<ValidationMode, 'none'>;
  /** Only changes written at or after this time (ms, source clock) are validated. */
  since?: number;
  /** Why the validator stopped by itself (too many pending rows). */
  error?: ErrorRecord;
}

export const validationKey = (task: string) => `dmq:validation:${task}`;

/** Tables a source's validator cannot compare now (a query the target refuses), for `validation status`. */
export interface TableProblem {
  srcTable: string;
  dstTable: string;
  message: string;
}

/** Per source, the TableProblem list of its validator's last round. */
export const validationTablesKey = (task: string) => `dmq:validation-tables:${task}`;

/** A time as DM's `--start-time` takes it ("2021-10-21 00:01:00", UTC unless it names a zone), as ms; NaN if it is none. */
export function startTimeMs(text: string): number {
  const iso = text.trim().replace(' ', 'T');
  return Date.parse(/(?:Z|[+-]\d\d:?\d\d)$/i.test(iso) ? iso : `${iso}Z`);
}

/** The state stored for the source, else what its validator config says; undefined: not validated. */
export function validationStateOf(stored: string | null | undefined, instance: InstanceConfig): ValidationState | undefined {
  if (stored) return JSON.parse(stored) as ValidationState;
  const config = instance.validator;
  if (!config || config.mode === 'none') return undefined;
  return { stage: 'Running', mode: config.mode, ...(config.startTime ? { since: startTimeMs(config.startTime) } : {}) };
}

export async function readValidationState(redis: Redis, task: string, instance: InstanceConfig): Promise<ValidationState | undefined> {
  return validationStateOf(await redis.hget(validationKey(task), instance.sourceId), instance);
}

export async function writeValidationState(redis: Redis, task: string, sourceId: string, state: ValidationState): Promise<void> {
  await redis.hset(validationKey(task), sourceId, JSON.stringify(state));
}

export async function forgetValidation(redis: Redis, task: string): Promise<void> {
  await redis.del(validationKey(task), validationTablesKey(task));
}
