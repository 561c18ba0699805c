import { Redis } from 'ioredis';

/** Every key Redis holds and every value of it, whatever its type, as text (SCAN, so it works on any size). */
export async function everythingInRedis(url: string): Promise<string[]> {
  const redis = new Redis(url);
  try {
    const out: string[] = [];
    for await (const keys of redis.scanStream({ count: 500 }) as AsyncIterable<string[]>) {
      for (const key of keys) {
        const type = await redis.type(key);
        out.push(key);
        if (type === 'string') out.push((await redis.get(key)) ?? '');
        else if (type === 'hash') out.push(...Object.entries(await redis.hgetall(key)).flat());
        else if (type === 'list') out.push(...(await redis.lrange(key, 0, -1)));
        else if (type === 'set') out.push(...(await redis.smembers(key)));
        else if (type === 'zset') out.push(...(await redis.zrange(key, 0, -1)));
        else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        else if (type !== 'none') throw new Error(`Redis key ${key} has type ${type}, which this dump does not read`);
      }
    }
    return out;
  } finally {
    redis.disconnect();
  }
}
