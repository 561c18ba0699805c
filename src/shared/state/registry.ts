import type { Redis } from 'ioredis';
import type { SourceConfig, TaskConfig } from '../config/types.js';
import { serializeSourceForStore, sourceFromStore } from '../config/source.js';
import { serializeTaskForStore, taskFromStore } from '../config/task.js';
import { diffKeys } from '../diff/diff-report.js';
import { DmqError, type ErrorRecord } from '../errors.js';

/**
 * Registered sources and submitted tasks, and each task's stage, kept in Redis (AOF on in
 * production). Progress facts live on the target; this is what to do and how it went.
 * Passwords are stored DM-encrypted, never in clear.
 */
export type TaskStage = 'New' | 'Running' | 'Paused' | 'Stopped' | 'Finished';
export type TaskUnit = 'Check' | 'Dump' | 'Load' | 'Sync';

export interface SourceTaskState {
  stage: TaskStage;
  unit: TaskUnit;
  /** How the copy reads the source: dmq never takes a global lock. */
  consistency?: string;
  unitStartedAt?: number;
  error?: ErrorRecord;
}

export interface TaskState {
  stage: TaskStage;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  error?: ErrorRecord;
  sources: Record<string, SourceTaskState>;
}

const SOURCES = 'dmq:sources';
const TASKS = 'dmq:tasks';
const stateKey = (task: string) => `dmq:task:${task}:state`;
const checkKey = (id: string) => `dmq:check:${id}`;
/** A check-task config outlives any wait for its precheck; then it is gone even if nobody deletes it. */
const CHECK_TTL_SECONDS = 15 * 60;
const precheckKey = (task: string) => `dmq:task:${task}:precheck`;

/**
 * Writes ARGV[2] only if the key still holds ARGV[1]: a compare-and-set in one command. WATCH
 * would do it in three, and its guard belongs to the connection: any other MULTI/EXEC on the
 * shared connection in between (BullMQ's, deleteTask's) ends it silently and a pause could be
 * overwritten. A reconnect in between would drop it too.
 */
const SET_IF_UNCHANGED = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2]) redis.call('publish', ARGV[3], KEYS[1]) return 1 else return 0 end`;

/**
 * Every change of a task's state is announced here (the message is the state's key), so that a
 * processor acts on it at once instead of at its next poll: the binlog supervisor starts a
 * reader as soon as a source enters Sync. Polling stays, for messages lost in a reconnect.
 */
export const TASK_STATE_CHANNEL = 'dmq:task-state';

export function registry(redis: Redis) {
  // Updates from this process take turns, so they do not make each other retry.
  let stateTurn: Promise<unknown> = Promise.resolve();

  async function guardedUpdate(name: string, change: (state: TaskState) => void): Promise<TaskState | undefined> {
    for (;;) {
      const json = await redis.get(stateKey(name));
      if (json === null) return undefined;
      const state = JSON.parse(json) as TaskState;
      const before = JSON.stringify(state);
      change(state);
      // Nothing changed (a chunk loaded mid-copy, say): no write, and no one woken for nothing.
      if (JSON.stringify(state) === before) return state;
      state.updatedAt = Date.now();
      if (Number(await redis.eval(SET_IF_UNCHANGED, 1, stateKey(name), json, JSON.stringify(state), TASK_STATE_CHANNEL)) === 1)
        return state;
    }
  }

  return {
    async putSource(source: SourceConfig, options: { replace: boolean }): Promise<void> {
      const json = JSON.stringify(serializeSourceForStore(source));
      if (options.replace) {
        await redis.hset(SOURCES, source.sourceId, json);
        return;
      }
      const created = await redis.hsetnx(SOURCES, source.sourceId, json);
      if (created === 0) {
        throw new DmqError('SOURCE_EXISTS', `source "${source.sourceId}" is already registered`, {
          where: 'source-id',
          workaround: 'stop it first (`dmq operate-source stop <file>`) or choose another source-id',
        });
      }
    },

    async getSource(sourceId: string): Promise<SourceConfig | undefined> {
      const json = await redis.hget(SOURCES, sourceId);
      return json === null ? undefined : sourceFromStore(JSON.parse(json));
    },

    async listSources(): Promise<SourceConfig[]> {
      const all = await redis.hgetall(SOURCES);
      return Object.keys(all)
        .sort()
        .map((id) => sourceFromStore(JSON.parse(all[id]!)));
    },

    async deleteSource(sourceId: string): Promise<boolean> {
      return (await redis.hdel(SOURCES, sourceId)) === 1;
    },

    async createTask(task: TaskConfig): Promise<void> {
      const created = await redis.hsetnx(TASKS, task.name, JSON.stringify(serializeTaskForStore(task)));
      if (created === 0) {
        throw new DmqError('TASK_EXISTS', `task "${task.name}" already exists`, {
          where: 'name',
          workaround: 'query it with `dmq query-status`, remove it with `dmq stop-task`, or start it again with `start-task --remove-meta`',
        });
      }
      const now = Date.now();
      const state: TaskState = {
        stage: 'Running',
        createdAt: now,
        updatedAt: now,
        sources: Object.fromEntries(task.instances.map((i) => [i.sourceId, { stage: 'Running', unit: 'Check', unitStartedAt: now }])),
      };
      await redis.set(stateKey(task.name), JSON.stringify(state));
    },

    async getTask(name: string): Promise<TaskConfig | undefined> {
      const json = await redis.hget(TASKS, name);
      return json === null ? undefined : taskFromStore(JSON.parse(json));
    },

    async requireTask(name: string): Promise<TaskConfig> {
      const task = await this.getTask(name);
      if (!task) {
        throw new DmqError('TASK_NOT_FOUND', `task "${name}" does not exist`, {
          workaround: 'list tasks with `dmq query-status`; start one with `dmq start-task task.yaml`',
        });
      }
      return task;
    },

    async listTaskNames(): Promise<string[]> {
      return (await redis.hkeys(TASKS)).sort();
    },

    async deleteTask(name: string): Promise<void> {
      await redis
        .multi()
        .hdel(TASKS, name)
        .del(stateKey(name))
        .del(precheckKey(name))
        .del(...diffKeys(name))
        .exec();
    },

    async getState(name: string): Promise<TaskState | undefined> {
      const json = await redis.get(stateKey(name));
      return json === null ? undefined : (JSON.parse(json) as TaskState);
    },

    /** Read-modify-write of a task's state; jobs finishing at once never lose each other's update. */
    updateState(name: string, change: (state: TaskState) => void): Promise<TaskState | undefined> {
      const turn = stateTurn.then(() => guardedUpdate(name, change));
      stateTurn = turn.catch(() => undefined);
      return turn;
    },

    /** The config of a task being checked (check-task), which is not registered, under `id`. */
    async putCheckConfig(id: string, task: TaskConfig): Promise<void> {
      await redis.set(checkKey(id), JSON.stringify(serializeTaskForStore(task)), 'EX', CHECK_TTL_SECONDS);
    },

    async getCheckConfig(id: string): Promise<TaskConfig | undefined> {
      const json = await redis.get(checkKey(id));
      return json === null ? undefined : taskFromStore(JSON.parse(json));
    },

    async deleteCheckConfig(id: string): Promise<void> {
      await redis.del(checkKey(id));
    },

    async putPrecheck(name: string, result: unknown): Promise<void> {
      await redis.set(precheckKey(name), JSON.stringify(result));
    },

    async getPrecheck(name: string): Promise<unknown> {
      const json = await redis.get(precheckKey(name));
      return json === null ? undefined : JSON.parse(json);
    },
  };
}

export type Registry = ReturnType<typeof registry>;
