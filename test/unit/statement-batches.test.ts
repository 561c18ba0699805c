import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import {
  DEFAULT_BATCH_LIMITS,
  statements,
  transactions,
  type BatchLimits,
  type Transaction,
} from '../../src/processors/load/statement-batches.js';
import { prng } from '../support/prng.js';

// Rows as the dump writes them: one tuple per line, values escaped so no raw 0x0A inside, but
// commas, parentheses and multi-byte UTF-8 inside values are normal.
const ROWS: string[] = [
  "(1,'a')",
  "(2,'日本語',X'00ff')",
  "(3,'),(','emoji 😀👩‍👩‍👧')",
  '(4,NULL)',
  `(5,'${'x'.repeat(40)}')`,
  "(6,'é\\n')",
  '(7,1.5e-7)',
  "(8,'𝄞 𝄞 𝄞')",
  "(9,'ü')",
  "(10,'\\'')",
  `(11,'${'中'.repeat(15)}')`,
  '(12,0)',
];

const encode = (rows: string[]) => Buffer.from(rows.map((r) => `${r}\n`).join(''), 'utf8');
const INPUT = encode(ROWS);

/** Byte offset just after each row's newline. */
function lineEnds(buf: Buffer): number[] {
  const ends: number[] = [];
  for (let i = 0; i < buf.length; i++) if (buf[i] === 0x0a) ends.push(i + 1);
  return ends;
}
const ENDS = lineEnds(INPUT);

/** Cut a buffer at the given positions (copies, so no piece shares memory with another). */
function cutAt(buf: Buffer, cuts: number[]): Buffer[] {
  const sorted = [...new Set(cuts.filter((c) => c > 0 && c < buf.length))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let prev = 0;
  for (const c of [...sorted, buf.length]) {
    pieces.push(Buffer.from(buf.subarray(prev, c)));
    prev = c;
  }
  return buf.length === 0 ? [] : pieces;
}

/** Ways to deliver a file: the splits that tend to break line and character handling. */
function splits(buf: Buffer): { name: string; pieces: Buffer[] }[] {
  const newlines = lineEnds(buf).map((e) => e - 1);
  const continuation: number[] = [];
  for (let i = 0; i < buf.length; i++) if ((buf[i]! & 0xc0) === 0x80) continuation.push(i);
  const r = prng(buf.length);
  const random: number[] = [];
  for (let i = 0; i < 12; i++) random.push(Math.floor(r() * buf.length));
  return [
    { name: 'one piece', pieces: cutAt(buf, []) },
    {
      name: 'one byte per piece',
      pieces: cutAt(
        buf,
        Array.from({ length: buf.length }, (_, i) => i),
      ),
    },
    {
      name: 'pieces ending right after each newline',
      pieces: cutAt(
        buf,
        newlines.map((n) => n + 1),
      ),
    },
    { name: 'pieces ending right before each newline', pieces: cutAt(buf, newlines) },
    { name: 'cut inside every multi-byte UTF-8 character', pieces: cutAt(buf, continuation) },
    { name: 'random cuts', pieces: cutAt(buf, random) },
    { name: 'with empty pieces between', pieces: cutAt(buf, random).flatMap((p) => [Buffer.alloc(0), p]) },
  ];
}

async function collect(pieces: Buffer[], startOffset: number, limits?: BatchLimits): Promise<Transaction[]> {
  const out: Transaction[] = [];
  for await (const t of transactions(Readable.from(pieces), startOffset, { limits })) out.push(t);
  return out;
}

/**
 * Match each statement against the expected rows: a statement must be exactly the next k rows
 * joined by commas (rows contain commas, so the statement is not split, the rows are joined).
 * Returns how many rows each statement took.
 */
function matchStatements(txns: Transaction[], rows: string[]): number[][] {
  let next = 0;
  const perTxn: number[][] = [];
  for (const t of txns) {
    const counts: number[] = [];
    assert.ok(t.statements.length > 0, 'no empty transaction');
    for (const s of t.statements) {
      let k = 0;
      let joined = '';
      while (joined.length < s.length) {
        assert.ok(next + k < rows.length, `statement runs past the last row: ${s}`);
        joined += (k > 0 ? ',' : '') + rows[next + k]!;
        k++;
      }
      assert.equal(s, joined, `statement ${counts.length} of a transaction is rows ${next}..${next + k - 1}`);
      counts.push(k);
      next += k;
    }
    assert.equal(
      t.rows,
      counts.reduce((a, b) => a + b, 0),
      'rows field counts the rows of the transaction',
    );
    perTxn.push(counts);
  }
  assert.equal(next, rows.length, 'every row, once, in order');
  return perTxn;
}

const rowBytes = (row: string) => Buffer.byteLength(row, 'utf8') + 1; // with its newline

const LIMITS: { name: string; limits: BatchLimits | undefined }[] = [
  { name: 'default limits', limits: undefined },
  { name: 'one row per statement', limits: { statementBytes: 1, transactionBytes: 1 } },
  { name: 'small statements, one per transaction', limits: { statementBytes: 30, transactionBytes: 1 } },
  { name: 'small statements, small transactions', limits: { statementBytes: 30, transactionBytes: 70 } },
  { name: 'statement limit equal to a row', limits: { statementBytes: rowBytes(ROWS[0]!), transactionBytes: 2 * rowBytes(ROWS[0]!) } },
  { name: 'transaction smaller than a statement', limits: { statementBytes: 100, transactionBytes: 10 } },
];

describe('transactions: rows, order and offsets', () => {
  for (const { name: limitName, limits } of LIMITS) {
    for (const { name: splitName, pieces } of splits(INPUT)) {
      test(`${limitName}; ${splitName}`, async () => {
        const txns = await collect(pieces, 0, limits);
        const perTxn = matchStatements(txns, ROWS);

        // endOffset: the byte just after the transaction's last line.
        let rowsSoFar = 0;
        for (let i = 0; i < txns.length; i++) {
          rowsSoFar += txns[i]!.rows;
          assert.equal(txns[i]!.endOffset, ENDS[rowsSoFar - 1], `endOffset of transaction ${i}`);
        }
        assert.equal(txns[txns.length - 1]!.endOffset, INPUT.length, 'last transaction ends at the end of the file');

        // Limits: a statement (transaction) is closed at the first row (statement) that reaches
        // the limit, so without its last row (statement) it is under the limit, and every one
        // but the last of the file has reached it.
        const lim = limits ?? DEFAULT_BATCH_LIMITS;
        let row = 0;
        const statementSizes: number[][] = [];
        for (const counts of perTxn) {
          const sizes: number[] = [];
          for (const k of counts) {
            const bytes = ROWS.slice(row, row + k).reduce((a, r) => a + rowBytes(r), 0);
            const last = rowBytes(ROWS[row + k - 1]!);
            assert.ok(bytes - last < lim.statementBytes, `statement closed late: ${bytes} bytes, last row ${last}`);
            sizes.push(bytes);
            row += k;
          }
          statementSizes.push(sizes);
        }
        const allSizes = statementSizes.flat();
        for (const [i, b] of allSizes.slice(0, -1).entries()) assert.ok(b >= lim.statementBytes, `statement ${i} closed early: ${b} bytes`);
        statementSizes.forEach((sizes, i) => {
          const total = sizes.reduce((a, b) => a + b, 0);
          assert.ok(total - sizes[sizes.length - 1]! < lim.transactionBytes, `transaction ${i} closed late`);
          if (i < statementSizes.length - 1) assert.ok(total >= lim.transactionBytes, `transaction ${i} closed early`);
        });
      });
    }
  }

  test('default limits: a small file is one transaction of one statement', async () => {
    const txns = await collect([INPUT], 0);
    assert.equal(txns.length, 1);
    assert.deepEqual(txns[0], { statements: [ROWS.join(',')], rows: ROWS.length, endOffset: INPUT.length });
  });

  test('a row larger than both limits is a statement and a transaction of its own', async () => {
    const big = `(1,'${'z'.repeat(500)}')`;
    const rows = ['(0)', big, '(2)'];
    const txns = await collect([encode(rows)], 0, { statementBytes: 4, transactionBytes: 4 });
    assert.deepEqual(
      txns.map((t) => t.statements),
      [['(0)'], [big], ['(2)']],
    );
  });
});

describe('transactions: resume from any endOffset', () => {
  const limits: BatchLimits = { statementBytes: 25, transactionBytes: 60 };
  for (const { name, pieces } of splits(INPUT)) {
    test(`resumes reproduce the remaining rows and offsets exactly; first read: ${name}`, async () => {
      const full = await collect(pieces, 0, limits);
      assert.ok(full.length > 2, 'the file spans several transactions');
      const boundaries = [0, ...full.map((t) => t.endOffset)];
      for (let i = 0; i < boundaries.length; i++) {
        const at = boundaries[i]!;
        assert.ok(at === 0 || INPUT[at - 1] === 0x0a, `offset ${at} is at a line end`);
        const rest = INPUT.subarray(at);
        const firstRow = at === 0 ? 0 : ENDS.indexOf(at) + 1;
        for (const split of splits(rest)) {
          const resumed = await collect(split.pieces, at, limits);
          matchStatements(resumed, ROWS.slice(firstRow));
          assert.deepEqual(resumed, full.slice(i), `resume at ${at} (${split.name}) repeats the original transactions`);
        }
      }
    });
  }

  test('a resume at the very end yields nothing', async () => {
    assert.deepEqual(await collect([], INPUT.length, limits), []);
  });
});

describe('transactions: bad and empty files', () => {
  test('an empty file yields nothing', async () => {
    assert.deepEqual(await collect([], 0), []);
    assert.deepEqual(await collect([Buffer.alloc(0)], 0), []);
    assert.deepEqual(await collect([Buffer.alloc(0), Buffer.alloc(0)], 123), []);
  });

  const truncated: { name: string; input: Buffer }[] = [
    { name: 'no newline at all', input: Buffer.from('(1)') },
    { name: 'last row cut short', input: Buffer.from("(1)\n(2)\n(3,'ab") },
    { name: 'cut inside a multi-byte character', input: Buffer.concat([Buffer.from("(1)\n('日"), Buffer.from('本').subarray(0, 2)]) },
    { name: 'whole rows, final newline missing', input: INPUT.subarray(0, INPUT.length - 1) },
  ];
  for (const { name, input } of truncated) {
    for (const limits of [undefined, { statementBytes: 1, transactionBytes: 1 }]) {
      test(`a truncated file throws (${name}; ${limits ? 'tiny' : 'default'} limits)`, async () => {
        const ends = lineEnds(input);
        const lastEnd = ends.length > 0 ? ends[ends.length - 1]! : 0;
        const seen: Transaction[] = [];
        await assert.rejects(
          (async () => {
            for await (const t of transactions(Readable.from(cutAt(input, [1, 5, 9])), 0, { limits })) seen.push(t);
          })(),
          /truncated/,
        );
        // Whatever was handed out before the error is whole rows only, ending at a line end.
        for (const t of seen) assert.ok(t.endOffset <= lastEnd && input[t.endOffset - 1] === 0x0a);
        const partial = input.subarray(lastEnd).toString('utf8');
        for (const t of seen)
          for (const s of t.statements) assert.ok(!s.includes(partial) || partial === '', 'the partial row is never loaded');
      });
    }
  }

  test('the error names the offset of the last whole line', async () => {
    await assert.rejects(collect([Buffer.from('(1)\n(2')], 100), /after offset 104/);
  });
});

test("rowEnd appends the route's extracted values to every row, across piece cuts, with the same offsets", async () => {
  const input = Buffer.from("(1,'a')\n(2,'b)')\n(3,NULL)\n");
  const rowEnd = Buffer.from(",'t_1','src')");
  for (const cuts of [[], [3, 8, 9, 17]]) {
    const out: Transaction[] = [];
    for await (const t of transactions(Readable.from(cutAt(input, cuts)), 0, { rowEnd })) out.push(t);
    assert.deepEqual(
      out.map((t) => t.statements),
      [["(1,'a','t_1','src'),(2,'b)','t_1','src'),(3,NULL,'t_1','src')"]],
    );
    assert.equal(out.at(-1)!.endOffset, input.length);
  }
});

test('statements are made one at a time, as the load asks: the file is not read ahead by a transaction', async () => {
  const lines = 200;
  let read = 0;
  async function* file() {
    for (let i = 1; i <= lines; i++) {
      read += 1;
      yield Buffer.from(`(${i},'${'x'.repeat(100)}')\n`);
    }
  }
  // A statement per 4 lines, and a transaction that would take the whole file.
  const limits: BatchLimits = { statementBytes: 400, transactionBytes: 1 << 30 };
  const made = statements(Readable.from(file(), { objectMode: true, highWaterMark: 1 }), 0, { limits });
  const first = await made.next();
  assert.equal(first.done, false);
  assert.equal(first.value?.rows, 4);
  assert.equal(first.value?.closesTransaction, false);
  assert.ok(read < lines / 2, `after the first statement ${read} of ${lines} lines were read`);
  let rows = first.value!.rows;
  for await (const statement of made) rows += statement.rows;
  assert.equal(rows, lines);
  assert.equal(read, lines);
});

test("the file's end closes the last transaction, also when its last statement ended on the statement limit", async () => {
  const input = Buffer.from(Array.from({ length: 8 }, (_, i) => `(${i},'${'y'.repeat(94)}')\n`).join(''));
  const limits: BatchLimits = { statementBytes: 400, transactionBytes: 1 << 30 };
  const out: Transaction[] = [];
  for await (const t of transactions(Readable.from([input]), 0, { limits })) out.push(t);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.statements.length, 2);
  assert.equal(out[0]!.rows, 8);
  assert.equal(out[0]!.endOffset, input.length);
});
