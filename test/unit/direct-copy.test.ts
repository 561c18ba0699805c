import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { copiesDirectly } from '../../src/processors/copy/direct-copy.js';
import { readAheadRows } from '../../src/processors/dump/chunk-read.js';
import { statementPieces, type StatementPiece } from '../../src/processors/copy/statement-pieces.js';
import type { ChunkRecord, TableRecord } from '../../src/shared/checkpoint/copy-checkpoint.js';
import { BudgetShare, ByteBudget } from '../../src/shared/memory/byte-budget.js';
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
    test(`a ${type} column: two, since each row may be megabytes`, () =>
      assert.equal(readAheadRows(table(['id'], { columns: [columnInfo('id', 'int'), columnInfo('b', type)] })), 2));
  }
});

describe('statementPieces', () => {
  /** Rows as the server-rendered SELECT returns them: the tuple, then the key raw. */
  const rows = Array.from({ length: 10 }, (_, i) => [Buffer.from(`(${i + 1},'r${i + 1}')`), Buffer.from(String(i + 1))]);

  const PREFIX = 'INSERT INTO t VALUES ';
  /** The VALUES part of a piece's statement. */
  const values = (p: StatementPiece) => {
    assert.ok(p.sql.startsWith(PREFIX));
    return p.sql.slice(PREFIX.length);
  };

  /** The pieces, taken as a writer takes them: each gives its bytes back once written, after `write`. */
  async function piecesOf(
    input: (Buffer | null)[][],
    options: { statementBytes: number; rowEnd?: Buffer; budget?: ByteBudget; write?: () => Promise<void> },
  ) {
    const share = new BudgetShare(options.budget ?? new ByteBudget(1 << 20));
    const out: StatementPiece[] = [];
    try {
      await pipeline(
        Readable.from(input),
        statementPieces('server', table(['id']), { prefix: PREFIX, statementBytes: options.statementBytes, rowEnd: options.rowEnd, share }),
        async (pieces: AsyncIterable<StatementPiece>) => {
          for await (const p of pieces) {
            await options.write?.();
            out.push(p);
            share.give(p.bytes);
          }
        },
      );
    } finally {
      share.close();
    }
    return out;
  }

  test('cuts rows into statements of at least statementBytes, each with the key of its last row', async () => {
    const pieces = await piecesOf(rows, { statementBytes: 30 });
    assert.deepEqual(pieces.map(values), [
      "(1,'r1'),(2,'r2'),(3,'r3'),(4,'r4')",
      "(5,'r5'),(6,'r6'),(7,'r7'),(8,'r8')",
      "(9,'r9'),(10,'r10')",
    ]);
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
    assert.equal(values(piece!), "(1,'r1','shard-1'),(2,'r2','shard-1')");
  });

  test('a row the source could not render fails the stream', async () => {
    await assert.rejects(piecesOf([rows[0]!, [null, Buffer.from('2')]], { statementBytes: 1 << 20 }), (err: Error) =>
      /RowTooLargeForServer/.test(err.constructor.name),
    );
  });

  test('rows wait for the budget: what is read and not yet written never passes it', async () => {
    // Each row is 9 or 10 bytes with its line end; 25 bytes hold two rows, never a third.
    const budget = new ByteBudget(25);
    let most = 0;
    const pieces = await piecesOf(rows, {
      statementBytes: 1 << 20,
      budget,
      write: async () => {
        most = Math.max(most, budget.held);
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    assert.ok(budget.peak <= 25, `held ${budget.peak} bytes of a 25-byte budget`);
    assert.ok(most > 0);
    assert.equal(budget.held, 0);
    // Short of budget, the rows gathered so far go out as a smaller statement instead of waiting.
    assert.ok(pieces.length > 1);
    assert.deepEqual(
      pieces.flatMap((p) => values(p).split(/(?<=\)),/)),
      rows.map((r) => r[0]!.toString()),
    );
  });

  test('a failed read gives back all it held', async () => {
    const budget = new ByteBudget(1 << 20);
    await assert.rejects(piecesOf([rows[0]!, rows[1]!, [null, Buffer.from('3')]], { statementBytes: 1 << 20, budget }));
    assert.equal(budget.held, 0);
  });
});
