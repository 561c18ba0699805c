import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import type { ChunkWriter, DumpStore } from './dump-store.js';

export function localDumpStore(root: string): DumpStore {
  const base = resolve(root);
  const pathOf = (key: string) => join(base, key);

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
      try {
        await access(pathOf(key));
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
