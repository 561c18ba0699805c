import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { DmqError } from '../../src/shared/errors.js';
import { chunkFileKey, isChunkFileKey } from '../../src/shared/store/dump-store.js';
import { localDumpStore } from '../../src/shared/store/local-dump-store.js';

const chunk = { task: 'task-1', sourceId: 'src', schema: 'db', table: 't', index: 3 };

describe('chunk file keys read back from the meta schema', () => {
  test('a key dmq made for the chunk is one of its files', () => {
    assert.ok(isChunkFileKey(chunkFileKey({ ...chunk, attempt: 'a1b2c3d4' }), chunk));
    assert.ok(
      isChunkFileKey(chunkFileKey({ ...chunk, schema: '../..', table: '/etc', attempt: '00' }), {
        ...chunk,
        schema: '../..',
        table: '/etc',
      }),
    );
  });

  const foreign: [string, string][] = [
    ['another chunk of the table', chunkFileKey({ ...chunk, index: 4, attempt: 'a1b2c3d4' })],
    ['another table', chunkFileKey({ ...chunk, table: 'u', attempt: 'a1b2c3d4' })],
    ['another task', chunkFileKey({ ...chunk, task: 'task-2', attempt: 'a1b2c3d4' })],
    ['a parent directory', '../../etc/passwd'],
    ['the chunk prefix, then a way out', `${chunkFileKey({ ...chunk, attempt: '' }).slice(0, -4)}/../../../../etc/passwd`],
    ['an absolute path', '/etc/passwd'],
    ['an attempt that is not hex', chunkFileKey({ ...chunk, attempt: 'zz' })],
  ];
  for (const [what, key] of foreign) {
    test(`${what} is not`, () => assert.equal(isChunkFileKey(key, chunk), false));
  }
});

describe('the local dump store keeps every key inside its directory', () => {
  for (const key of ['../outside.sql', '../../etc/passwd', '/etc/passwd', 'a/../../outside.sql', '.', '']) {
    test(`${JSON.stringify(key)} is refused by every operation`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'dmq-store-'));
      const outside = join(dirname(dir), 'outside.sql');
      await writeFile(outside, 'canary');
      const store = localDumpStore(dir);
      const refused = (err: unknown) => err instanceof DmqError && err.code === 'DUMP_KEY_INVALID';
      assert.throws(() => store.read(key, 0), refused);
      await assert.rejects(store.exists(key), refused);
      await assert.rejects(store.remove(key), refused);
      await assert.rejects(store.removePrefix(key), refused);
      await assert.rejects(store.create(key), refused);
      assert.equal(await readFile(outside, 'utf8'), 'canary');
    });
  }

  test('a key of dmq works as before', async () => {
    const store = localDumpStore(await mkdtemp(join(tmpdir(), 'dmq-store-')));
    const key = chunkFileKey({ ...chunk, attempt: 'a1b2c3d4' });
    const writer = await store.create(key);
    writer.stream.write('(1)\n');
    assert.equal(await writer.commit(), 4);
    assert.equal(await store.exists(key), true);
    await store.remove(key);
    assert.equal(await store.exists(key), false);
  });
});
