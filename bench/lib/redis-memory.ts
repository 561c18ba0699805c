/**
 * Redis's used_memory, sampled in the background, so a report can give its peak within any
 * phase: dmq keeps work in Redis (apply jobs hold row images until they complete), and that must
 * stay bounded like dmq's own memory.
 */
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';

const SAMPLE_MS = 200;

export interface RedisMemorySampler {
  /** The highest used_memory sampled between two times (ms); 0 if none was. */
  peak(from: number, to: number): number;
  stop(): Promise<void>;
}

export function startRedisMemorySampler(url: string): RedisMemorySampler {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  // A failed sample ends the loop, and stop() reports it; ioredis would also print each reconnect.
  redis.on('error', () => undefined);
  const samples: { at: number; bytes: number }[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const info = await redis.info('memory');
      const bytes = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
      if (Number.isFinite(bytes)) samples.push({ at: Date.now(), bytes });
      await sleep(SAMPLE_MS);
    }
  })();
  // Reported by stop(), not as an unhandled rejection that would end the run without its cleanups.
  loop.catch(() => undefined);
  return {
    peak(from, to) {
      return samples.reduce((max, s) => (s.at >= from && s.at <= to ? Math.max(max, s.bytes) : max), 0);
    },
    async stop() {
      stopped = true;
      try {
        await loop;
      } finally {
        redis.disconnect();
      }
    },
  };
}
