import { toErrorRecord, type DmqError } from '../shared/errors.js';
import type { ServiceContext } from '../shared/task/context.js';
import { createJobCounts } from './job-counts.js';

/** While a server is away a job waits 1 s, doubling up to this, for as long as it takes. */
const OUTAGE_MAX_WAIT_MS = 30_000;

/** A job of one source of a task that found a server (the source or the target) away. */
export interface OutageSite {
  task: string;
  sourceId: string;
  jobId: string;
}

/** What the operator reads when an outage of this kind starts and ends. */
export interface OutageWords {
  /** The error shown in the source's status while the server is away. */
  error: DmqError;
  /** The warning logged once when the outage starts. */
  starts: string;
  /** The line logged once when a job gets through again. */
  ends: string;
  /** More log fields (the queue, the table). */
  fields?: Record<string, unknown>;
}

/**
 * Jobs that meet a source or the target gone away (restarting, cut off) wait for it without
 * spending their attempts: attempts would run out within seconds and pause the task for an
 * outage that heals by itself. Every pending job of a source retries, so the outage is told once
 * per source (one warning, the error in its status) and its end once. Each job doubles its own
 * wait, so every job is back within 30 s of the server, however many share the outage.
 */
export function createServerOutages() {
  const away = new Set<string>();
  const waits = createJobCounts();
  const sourceOf = (site: OutageSite, code: string) => JSON.stringify([site.task, site.sourceId, code]);

  return {
    /** Counts one more wait of the job; how long it should wait. */
    async wait(ctx: ServiceContext, site: OutageSite, words: OutageWords): Promise<number> {
      const n = waits.add(site.jobId);
      const key = sourceOf(site, words.error.code);
      if (!away.has(key)) {
        away.add(key);
        ctx.log.warn({ task: site.task, source: site.sourceId, ...words.fields, err: words.error }, words.starts);
        await ctx.registry.updateState(site.task, (state) => {
          const s = state.sources[site.sourceId];
          if (s && s.stage === 'Running') s.error = toErrorRecord(words.error);
        });
      }
      return Math.min(OUTAGE_MAX_WAIT_MS, 1000 * 2 ** (n - 1));
    },
    /** After the job got through: ends its source's outage of `code`, if one was told. */
    async over(ctx: ServiceContext, site: OutageSite, code: DmqError['code'], ends: string): Promise<void> {
      waits.clear(site.jobId);
      if (!away.delete(sourceOf(site, code))) return;
      ctx.log.info({ task: site.task, source: site.sourceId }, ends);
      await ctx.registry.updateState(site.task, (state) => {
        const s = state.sources[site.sourceId];
        if (s?.error?.code === code) delete s.error;
      });
    },
  };
}
