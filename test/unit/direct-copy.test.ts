import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { copiesDirectly } from '../../src/processors/copy/direct-copy.js';
import { readAheadRows } from '../../src/processors/dump/chunk-read.js';
import { statementPieces, type StatementPiece } from '../../src/processors/copy/statement-pieces.js';
import type { ChunkRecord, TableRecord } from '../../src/shared/checkpoint/copy-checkpoint.js';
import { columnInfo } from '../support/column-info.js';

const table = (splitKey: string[], extra: Partial<TableRecord> = {}): TableRecord => ({
  sourceId: 's',
  schema: 'db',
  table: 't',
  target: { schema: 'db', table: 't' },
  createSql: '',
  columns: [columnInfo('id', 'int'), columnInfo('name', 'varchar', 'varchar(10)')],
  splitKey,
  splitKind: splitKey.length > 0 ? 'integer' : 'none',
  estimatedRows: 0,
  chunkCount: 1,
  ...extra,
});

const chunk = (state: Partial<ChunkRecord> = {}): ChunkRecord => ({
  sourceId: 's',
  schema: 'db',
  table: 't',
  index: 0,
  lower: null,
  upper: null,
  fileKey: null,
  fileBytes: 0,
  dumpedRows: 0,
  dumped: false,
  loadOffset: 0,
  loadedRows: 0,
  loaded: false,
  resumeKey: null,
  ...state,
});

describe('copiesDirectly', () => {
  const cases: [string, Parameters<typeof copiesDirectly>, boolean][] = [
    ['a keyed table of a full task', ['direct', 'full', table(['id']), chunk()], true],
    ['a keyed table of an all task', ['direct', 'all', table(['id']), chunk()], true],
    ['DMQ_COPY_PATH=files', ['files', 'all', table(['id']), chunk()], false],
    ['dump mode keeps its files', ['direct', 'dump', table(['id']), chunk()], false],
    ['load mode loads files', ['direct', 'load', table(['id']), chunk({ dumped: true, fileKey: 'k' })], false],
    ['a keyless table: nothing says where a half-copied chunk resumes', ['direct', 'all', table([]), chunk()], false],
    ['a key on a generated column, which the copy does not read', ['direct', 'all', table(['g']), chunk()], false],
    ['a chunk already dumped to a file is loaded from it', ['direct', 'all', table(['id']), chunk({ dumped: true, fileKey: 'k' })], false],
    [
      'a chunk begun directly goes on directly, whatever the setting now',
      ['files', 'all', table(['id']), chunk({ loadOffset: 10, resumeKey: [1n] })],
      true,
    ],
  ];
  for (const [name, args, expected] of cases) test(name, () => assert.equal(copiesDirectly(...args), expected));
});

describe('readAheadRows', () => {
  test('narrow rows: a thousand read ahead', () => assert.equal(readAheadRows(table(['id'])), 1000));
  for (const type of ['longblob', 'mediumtext', 'json']) {
    test(`a ${type} column: a few, since each row may be megabytes`, () =>
      assert.equal(readAheadRows(table(['id'], { columns: [columnInfo('id', 'int'), columnInfo('b', type)] })), 16));
  }
});

describe('statementPieces', () => {
  /** Rows as the server-rendered SELECT returns them: the tuple, then the key raw. */
  const rows = Array.from({ length: 10 }, (_, i) => [Buffer.from(`(${i + 1},'r${i + 1}')`), Buffer.from(String(i + 1))]);

  async function piecesOf(input: (Buffer | null)[][], options: { statementBytes: number; rowEnd?: Buffer }) {
    const out: StatementPiece[] = [];
    await pipeline(
      Readable.from(input),
      statementPieces('server', table(['id']), { statementBytes: options.statementBytes, rowEnd: options.rowEnd }),
      async (pieces: AsyncIterable<StatementPiece>) => {
        for await (const p of pieces) out.push(p);
      },
    );
    return out;
  }

  test('cuts rows into statements of at least statementBytes, each with the key of its last row', async () => {
    const pieces = await piecesOf(rows, { statementBytes: 30 });
    assert.deepEqual(
      pieces.map((p) => p.values),
      ["(1,'r1'),(2,'r2'),(3,'r3'),(4,'r4')", "(5,'r5'),(6,'r6'),(7,'r7'),(8,'r8')", "(9,'r9'),(10,'r10')"],
    );
    assert.deepEqual(
      pieces.map((p) => [p.rows, p.lastKey]),
      [
        [4, [4n]],
        [4, [8n]],
        [2, [10n]],
      ],
    );
    // Bytes as a chunk file would hold the rows: each tuple and its line end.
    assert.equal(
      pieces.reduce((n, p) => n + p.bytes, 0),
      rows.reduce((n, r) => n + r[0]!.length + 1, 0),
    );
  });

  test("appends the routes' extracted values to every row", async () => {
    const [piece] = await piecesOf(rows.slice(0, 2), { statementBytes: 1 << 20, rowEnd: Buffer.from(",'shard-1')") });
    assert.equal(piece!.values, "(1,'r1','shard-1'),(2,'r2','shard-1')");
  });

  test('a row the source could not render fails the stream', async () => {
    await assert.rejects(piecesOf([rows[0]!, [null, Buffer.from('2')]], { statementBytes: 1 << 20 }), (err: Error) =>
      /RowTooLargeForServer/.test(err.constructor.name),
    );
  });
});
