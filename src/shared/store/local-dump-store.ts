import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { finished } from 'node:stream/promises';
import { DmqError } from '../errors.js';
import type { ChunkWriter, DumpStore } from './dump-store.js';

export function localDumpStore(root: string): DumpStore {
  const base = resolve(root);
  /** No key reaches outside the directory, whatever it holds (`..`, an absolute path). */
  const pathOf = (key: string) => {
    const path = resolve(base, key);
    if (!path.startsWith(base + sep)) {
      throw new DmqError('DUMP_KEY_INVALID', `dump file key ${JSON.stringify(key)} is outside the dump directory ${base}`, {
        where: key,
        workaround: 'dump file keys are made by dmq; check who changed the chunk rows in the target meta schema',
      });
    }
    return path;
  };

  return {
    describe: () => base,

    async create(key) {
      const finalPath = pathOf(key);
      const tmpPath = `${finalPath}.partial`;
      await mkdir(dirname(finalPath), { recursive: true });
      const stream = createWriteStream(tmpPath);
      const writer: ChunkWriter = {
        stream,
        async commit() {
          stream.end();
          await finished(stream);
          // fsync before rename: a committed chunk must survive a host crash, or a load could
          // resume at an offset into a file that lost its tail.
          const handle = await open(tmpPath, 'r');
          try {
            await handle.sync();
          } finally {
            await handle.close();
          }
          await rename(tmpPath, finalPath);
          return stream.bytesWritten;
        },
        async abort() {
          stream.destroy();
          await unlink(tmpPath).catch(() => undefined);
        },
      };
      return writer;
    },

    async exists(key) {
      const path = pathOf(key);
      try {
        await access(path);
        return true;
      } catch {
        return false;
      }
    },

    read(key, offset) {
      return createReadStream(pathOf(key), { start: offset, highWaterMark: 1 << 20 });
    },

    async remove(key) {
      await rm(pathOf(key), { force: true });
    },

    async removePrefix(prefix) {
      await rm(pathOf(prefix), { recursive: true, force: true });
    },
  };
}
