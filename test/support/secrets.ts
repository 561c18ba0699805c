import { Redis } from 'ioredis';

/** A user of any host with every privilege and this password: for tests of where passwords go. */
export function userWithPassword(user: string, password: string): string[] {
  return [`CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${password}'`, `GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%'`];
}

export interface RedisEntry {
  key: string;
  /** Every value the key holds, whatever its type, as text (a hash: its fields and values). */
  values: string[];
  /** For a hash, its fields. */
  hash?: Record<string, string>;
}

/** Everything Redis holds. */
export async function redisEntries(url: string): Promise<RedisEntry[]> {
  const redis = new Redis(url);
  try {
    const entries: RedisEntry[] = [];
    for (const key of await redis.keys('*')) {
      const type = await redis.type(key);
      if (type === 'string') entries.push({ key, values: [(await redis.get(key)) ?? ''] });
      else if (type === 'hash') {
        const hash = await redis.hgetall(key);
        entries.push({ key, values: Object.entries(hash).flat(), hash });
      } else if (type === 'list') entries.push({ key, values: await redis.lrange(key, 0, -1) });
      else if (type === 'set') entries.push({ key, values: await redis.smembers(key) });
      else if (type === 'zset') entries.push({ key, values: await redis.zrange(key, 0, -1) });
      else if (type === 'stream') entries.push({ key, values: [JSON.stringify(await redis.xrange(key, '-', '+'))] });
    }
    return entries;
  } finally {
    redis.disconnect();
  }
}
