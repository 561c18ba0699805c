import { Redis } from 'ioredis';

export interface RedisEntry {
  key: string;
  /** Every value the key holds, whatever its type, as text (a hash: its fields and values). */
  values: string[];
  /** For a hash, its fields. */
  hash?: Record<string, string>;
}

/** Every key Redis holds with its values (SCAN, so it works on any size). */
export async function redisEntries(url: string): Promise<RedisEntry[]> {
  const redis = new Redis(url);
  try {
    const entries: RedisEntry[] = [];
    for await (const keys of redis.scanStream({ count: 500 }) as AsyncIterable<string[]>) {
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'string') entries.push({ key, values: [(await redis.get(key)) ?? ''] });
        else if (type === 'hash') {
          const hash = await redis.hgetall(key);
          entries.push({ key, values: Object.entries(hash).flat(), hash });
        } else if (type === 'list') entries.push({ key, values: await redis.lrange(key, 0, -1) });
        else if (type === 'set') entries.push({ key, values: await redis.smembers(key) });
        else if (type === 'zset') entries.push({ key, values: await redis.zrange(key, 0, -1) });
        else if (type === 'stream') entries.push({ key, values: [JSON.stringify(await redis.xrange(key, '-', '+'))] });
        else if (type !== 'none') throw new Error(`Redis key ${key} has type ${type}, which this dump does not read`);
      }
    }
    return entries;
  } finally {
    redis.disconnect();
  }
}

/** Every key Redis holds and every value of it, whatever its type, as text. */
export async function everythingInRedis(url: string): Promise<string[]> {
  return (await redisEntries(url)).flatMap((entry) => [entry.key, ...entry.values]);
}
