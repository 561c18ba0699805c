import type { Pool } from 'mysql2/promise';
import type { SourceConfig, TaskConfig } from '../config/types.js';
import { openPool } from './connect.js';

/** Session settings for writing into the target: values exactly as dumped, no implicit rewrites. */
export const TARGET_SESSION: Record<string, string | number> = {
  // NO_AUTO_VALUE_ON_ZERO keeps a copied 0 in an AUTO_INCREMENT column; no strict zero-date
  // checks, because the source may legally hold 0000-00-00.
  sql_mode: 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION',
  foreign_key_checks: 0,
};

/**
 * Session settings for reading a source: SHOW CREATE TABLE must quote names with backticks
 * whatever the server's global sql_mode (ANSI_QUOTES) or sql_quote_show_create say, and the
 * values dmq sends as parameters are escaped with backslashes, which a global
 * NO_BACKSLASH_ESCAPES would read otherwise. Every source connection but the binlog stream's
 * (whose one parameterized query is a server-side prepared statement) uses it.
 */
export const SOURCE_SESSION: Record<string, string | number> = {
  sql_mode: '',
  sql_quote_show_create: 1,
};

/**
 * One pool per task target and per source in each process, sized for the task's
 * concurrency; recreated when the task's config changes (remove-meta restart).
 */
export function poolCache() {
  const pools = new Map<string, { fingerprint: string; pool: Pool }>();

  function get(key: string, fingerprint: string, make: () => Pool): Pool {
    const existing = pools.get(key);
    if (existing && existing.fingerprint === fingerprint) return existing.pool;
    if (existing) void existing.pool.end().catch(() => undefined);
    const pool = make();
    pools.set(key, { fingerprint, pool });
    return pool;
  }

  return {
    target(task: TaskConfig): Pool {
      const t = task.target;
      const size = task.instances.reduce((n, i) => n + i.loader.poolSize, 0) + 2;
      return get(
        `target:${task.name}`,
        JSON.stringify([t.host, t.port, t.user, t.password, t.security, t.session, size, task.timezone]),
        () =>
          openPool(t, {
            label: `target of task "${task.name}"`,
            role: 'target',
            size,
            session: { ...TARGET_SESSION, ...t.session },
            multipleStatements: true,
            timeZone: task.timezone,
          }),
      );
    },
    source(task: TaskConfig, source: SourceConfig): Pool {
      const f = source.from;
      const instance = task.instances.find((i) => i.sourceId === source.sourceId);
      const size = (instance?.mydumper.threads ?? 4) + 1;
      return get(
        `source:${task.name}:${source.sourceId}`,
        JSON.stringify([f.host, f.port, f.user, f.password, f.security, size, task.timezone]),
        () => openPool(f, { label: `source "${source.sourceId}"`, role: 'source', size, session: SOURCE_SESSION, timeZone: task.timezone }),
      );
    },
    async closeTask(task: string): Promise<void> {
      for (const [key, entry] of pools) {
        if (key === `target:${task}` || key.startsWith(`source:${task}:`)) {
          pools.delete(key);
          await entry.pool.end().catch(() => undefined);
        }
      }
    },
    async closeAll(): Promise<void> {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((e) => e.pool.end().catch(() => undefined)));
    },
  };
}

export type PoolCache = ReturnType<typeof poolCache>;
