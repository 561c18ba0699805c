import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chunkCondition, chunkCountFor, integerChunks, keysetChunks, tupleCompare } from '../../src/shared/chunk/key-range.js';
import type { ChunkBounds, KeyValue } from '../../src/shared/chunk/chunk.js';
import { prng } from '../support/prng.js';

// ---------------------------------------------------------------------------------------------
// Helpers: a reference order on key tuples, a seeded PRNG, and a tiny, strict interpreter for the
// SQL that tupleCompare / chunkCondition produce. The interpreter only knows `ident op ?`, the
// literal `1 = 1`, AND, OR and parentheses; anything else makes it throw, so a change in the
// shape of the generated SQL is caught, not silently misread.
// ---------------------------------------------------------------------------------------------

type Scalar = bigint | string | Buffer;

function compareScalar(a: KeyValue, b: KeyValue): number {
  if (a === null || b === null) throw new Error('NULL never appears in a split key (NOT NULL keys only)');
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  throw new Error(`cannot compare ${typeof a} with ${typeof b}`);
}

/** Lexicographic tuple order: what `(a, b, c) <=> (x, y, z)` means in MySQL for NOT NULL keys. */
function compareTuple(a: readonly KeyValue[], b: readonly KeyValue[]): number {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const c = compareScalar(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return 0;
}

function inBounds(t: readonly KeyValue[], b: ChunkBounds): boolean {
  if (b.lower && compareTuple(t, b.lower) < 0) return false;
  if (b.upper && compareTuple(t, b.upper) >= 0) return false;
  return true;
}

type Token =
  | { kind: 'id'; name: string }
  | { kind: 'param' }
  | { kind: 'op'; op: '=' | '>' | '>=' | '<' }
  | { kind: 'num'; value: string }
  | { kind: 'and' | 'or' | 'lp' | 'rp' };

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === ' ') {
      i++;
    } else if (c === '`') {
      let name = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw new Error(`unterminated identifier in ${sql}`);
        if (sql[i] === '`') {
          if (sql[i + 1] === '`') {
            name += '`';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        name += sql[i];
        i++;
      }
      out.push({ kind: 'id', name });
    } else if (c === '?') {
      out.push({ kind: 'param' });
      i++;
    } else if (c === '(') {
      out.push({ kind: 'lp' });
      i++;
    } else if (c === ')') {
      out.push({ kind: 'rp' });
      i++;
    } else if (sql.startsWith('>=', i)) {
      out.push({ kind: 'op', op: '>=' });
      i += 2;
    } else if (c === '>' || c === '<' || c === '=') {
      out.push({ kind: 'op', op: c });
      i++;
    } else if (sql.startsWith('AND ', i)) {
      out.push({ kind: 'and' });
      i += 3;
    } else if (sql.startsWith('OR ', i)) {
      out.push({ kind: 'or' });
      i += 2;
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < sql.length && /[0-9]/.test(sql[j]!)) j++;
      out.push({ kind: 'num', value: sql.slice(i, j) });
      i = j;
    } else {
      throw new Error(`unexpected ${JSON.stringify(c)} at ${i} in ${sql}`);
    }
  }
  return out;
}

type Expr =
  | { kind: 'cmp'; column: string; op: '=' | '>' | '>=' | '<'; param: number }
  | { kind: 'true' }
  | { kind: 'and' | 'or'; terms: Expr[] };

/** Parse with the usual precedence (AND binds tighter than OR); `?` are numbered left to right. */
function parse(sql: string): { expr: Expr; paramCount: number } {
  const tokens = tokenize(sql);
  let pos = 0;
  let params = 0;
  const peek = () => tokens[pos];
  const next = () => {
    const t = tokens[pos++];
    if (!t) throw new Error(`unexpected end of ${sql}`);
    return t;
  };
  const primary = (): Expr => {
    const t = next();
    if (t.kind === 'lp') {
      const e = orExpr();
      if (next().kind !== 'rp') throw new Error(`expected ) in ${sql}`);
      return e;
    }
    if (t.kind === 'num') {
      const op = next();
      const rhs = next();
      if (op.kind !== 'op' || op.op !== '=' || rhs.kind !== 'num' || rhs.value !== t.value) throw new Error(`only N = N literals: ${sql}`);
      return { kind: 'true' };
    }
    if (t.kind !== 'id') throw new Error(`expected identifier in ${sql}`);
    const op = next();
    if (op.kind !== 'op') throw new Error(`expected comparison in ${sql}`);
    if (next().kind !== 'param') throw new Error(`expected ? in ${sql}`);
    return { kind: 'cmp', column: t.name, op: op.op, param: params++ };
  };
  const andExpr = (): Expr => {
    const terms = [primary()];
    while (peek()?.kind === 'and') {
      pos++;
      terms.push(primary());
    }
    return terms.length === 1 ? terms[0]! : { kind: 'and', terms };
  };
  const orExpr = (): Expr => {
    const terms = [andExpr()];
    while (peek()?.kind === 'or') {
      pos++;
      terms.push(andExpr());
    }
    return terms.length === 1 ? terms[0]! : { kind: 'or', terms };
  };
  const expr = orExpr();
  if (pos !== tokens.length) throw new Error(`trailing tokens in ${sql}`);
  return { expr, paramCount: params };
}

function evaluate(expr: Expr, params: readonly KeyValue[], row: ReadonlyMap<string, KeyValue>): boolean {
  switch (expr.kind) {
    case 'true':
      return true;
    case 'and':
      return expr.terms.every((t) => evaluate(t, params, row));
    case 'or':
      return expr.terms.some((t) => evaluate(t, params, row));
    case 'cmp': {
      if (!row.has(expr.column)) throw new Error(`unknown column ${expr.column}`);
      const c = compareScalar(row.get(expr.column)!, params[expr.param]!);
      return expr.op === '=' ? c === 0 : expr.op === '>' ? c > 0 : expr.op === '>=' ? c >= 0 : c < 0;
    }
  }
}

/** Compile a fragment once; returns a predicate over tuples in key-column order. */
function compile(columns: string[], fragment: { sql: string; params: KeyValue[] }): (t: readonly KeyValue[]) => boolean {
  const { expr, paramCount } = parse(fragment.sql);
  assert.equal(paramCount, fragment.params.length, `placeholders vs params in ${fragment.sql}`);
  return (t) => evaluate(expr, fragment.params, new Map(columns.map((c, i) => [c, t[i]!])));
}

// ---------------------------------------------------------------------------------------------

describe('integerChunks', () => {
  const cases: { name: string; min: bigint; max: bigint; count: number; boundaries: bigint[] }[] = [
    { name: 'equal widths', min: 1n, max: 100n, count: 4, boundaries: [26n, 51n, 76n] },
    { name: 'uneven span: widths differ by at most one', min: 0n, max: 9n, count: 3, boundaries: [3n, 6n] },
    { name: 'negative range', min: -10n, max: 9n, count: 4, boundaries: [-5n, 0n, 5n] },
    { name: 'count 1: a single unbounded chunk', min: 1n, max: 1000n, count: 1, boundaries: [] },
    { name: 'count 0 is treated as 1', min: 1n, max: 1000n, count: 0, boundaries: [] },
    { name: 'negative count is treated as 1', min: 1n, max: 1000n, count: -3, boundaries: [] },
    { name: 'count > span: one value per chunk', min: 5n, max: 7n, count: 10, boundaries: [6n, 7n] },
    { name: 'count == span', min: 5n, max: 7n, count: 3, boundaries: [6n, 7n] },
    { name: 'single value', min: 42n, max: 42n, count: 8, boundaries: [] },
    { name: 'max < min (degenerate): one unbounded chunk', min: 10n, max: 5n, count: 4, boundaries: [] },
    {
      name: 'top of BIGINT UNSIGNED, count > span',
      min: 2n ** 64n - 4n,
      max: 2n ** 64n - 1n,
      count: 100,
      boundaries: [2n ** 64n - 3n, 2n ** 64n - 2n, 2n ** 64n - 1n],
    },
    {
      name: 'bottom of BIGINT SIGNED, count > span',
      min: -(2n ** 63n),
      max: -(2n ** 63n) + 2n,
      count: 5,
      boundaries: [-(2n ** 63n) + 1n, -(2n ** 63n) + 2n],
    },
    {
      name: 'whole BIGINT SIGNED range in two',
      min: -(2n ** 63n),
      max: 2n ** 63n - 1n,
      count: 2,
      boundaries: [0n],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const chunks = integerChunks(c.min, c.max, c.count);
      const expected: ChunkBounds[] = [];
      let lower: KeyValue[] | null = null;
      for (const b of c.boundaries) {
        expected.push({ lower, upper: [b] });
        lower = [b];
      }
      expected.push({ lower, upper: null });
      assert.deepEqual(chunks, expected);
    });
  }

  /** Every integer lies in exactly one chunk: structural check plus point membership. */
  function assertPartition(chunks: ChunkBounds[], min: bigint, max: bigint, count: number) {
    const span = max - min + 1n;
    const want = BigInt(Math.max(1, count)) > span ? Number(span) : Math.max(1, count);
    assert.equal(chunks.length, want, 'chunk count');
    assert.equal(chunks[0]!.lower, null, 'first chunk open below');
    assert.equal(chunks[chunks.length - 1]!.upper, null, 'last chunk open above');
    const boundaries: bigint[] = [];
    for (let i = 0; i + 1 < chunks.length; i++) {
      assert.deepEqual(chunks[i]!.upper, chunks[i + 1]!.lower, `upper of ${i} is lower of ${i + 1}`);
      const u = chunks[i]!.upper;
      assert.ok(u && u.length === 1 && typeof u[0] === 'bigint');
      boundaries.push(u[0] as bigint);
    }
    for (let i = 0; i < boundaries.length; i++) {
      assert.ok(boundaries[i]! > min && boundaries[i]! <= max, `boundary ${boundaries[i]} inside (min, max]`);
      if (i > 0) assert.ok(boundaries[i]! > boundaries[i - 1]!, 'strictly increasing');
    }
    // Rows per chunk inside [min, max] differ by at most one (equal widths).
    const edges = [min, ...boundaries, max + 1n];
    const widths = edges.slice(1).map((e, i) => e - edges[i]!);
    // biome-ignore lint/complexity/useMathMinMax: bigint
    const lo = widths.reduce((a, b) => (a < b ? a : b));
    // biome-ignore lint/complexity/useMathMinMax: bigint
    const hi = widths.reduce((a, b) => (a > b ? a : b));
    assert.ok(hi - lo <= 1n, `widths ${widths.join(',')}`);
    // Points: outside the range, the edges, every boundary and its neighbours.
    const points = new Set<bigint>([min - 1n, min, min + 1n, max - 1n, max, max + 1n, -(2n ** 70n), 2n ** 70n]);
    for (const b of boundaries) for (const d of [-1n, 0n, 1n]) points.add(b + d);
    const predicates = chunks.map((ch) => compile(['id'], chunkCondition(['id'], ch)));
    for (const p of points) {
      const byRef = chunks.filter((ch) => inBounds([p], ch)).length;
      assert.equal(byRef, 1, `${p} in exactly one chunk (reference)`);
      const bySql = predicates.filter((f) => f([p])).length;
      assert.equal(bySql, 1, `${p} in exactly one chunk (generated SQL)`);
    }
  }

  const partitions: [bigint, bigint, number][] = [
    [1n, 1_000_000n, 7],
    [-(2n ** 63n), 2n ** 63n - 1n, 13],
    [0n, 2n ** 64n - 1n, 1000],
    [-(2n ** 63n), 2n ** 64n - 1n, 7],
    [2n ** 64n - 1000n, 2n ** 64n - 1n, 999],
    [2n ** 64n - 1000n, 2n ** 64n - 1n, 1000],
    [2n ** 64n - 1000n, 2n ** 64n - 1n, 5000],
    [-(2n ** 63n), -(2n ** 63n) + 10n, 4],
    [2n ** 53n - 3n, 2n ** 53n + 3n, 3], // past double precision
    [5n, 5n, 1],
    [-3n, 3n, 1],
  ];
  for (const [min, max, count] of partitions) {
    test(`partition of all integers: [${min}, ${max}] in ${count}`, () => {
      assertPartition(integerChunks(min, max, count), min, max, count);
    });
  }
});

describe('keysetChunks', () => {
  test('no boundaries: one unbounded chunk', () => {
    assert.deepEqual(keysetChunks([]), [{ lower: null, upper: null }]);
  });
  test('one boundary: two chunks meeting at it', () => {
    assert.deepEqual(keysetChunks([['m']]), [
      { lower: null, upper: ['m'] },
      { lower: ['m'], upper: null },
    ]);
  });
  test('multi-column boundaries of mixed types, in order', () => {
    const b: KeyValue[][] = [
      ['a', 1n, Buffer.from([0])],
      ['a', 2n, Buffer.from([0])],
      ['b', 0n, Buffer.from([0xff])],
    ];
    assert.deepEqual(keysetChunks(b), [
      { lower: null, upper: b[0] },
      { lower: b[0], upper: b[1] },
      { lower: b[1], upper: b[2] },
      { lower: b[2], upper: null },
    ]);
  });
});

describe('chunkCountFor', () => {
  const cases: [number, number, number][] = [
    [0, 100, 1],
    [1, 100, 1],
    [100, 100, 1],
    [101, 100, 2],
    [1_000_000, 100_000, 10],
  ];
  for (const [rows, per, want] of cases)
    test(`${rows} rows / ${per} per chunk = ${want}`, () => assert.equal(chunkCountFor(rows, per), want));
});

describe('tupleCompare: exact SQL and params', () => {
  const cases: { name: string; columns: string[]; op: '>=' | '>' | '<'; values: KeyValue[]; sql: string; params: KeyValue[] }[] = [
    { name: '1 column >=', columns: ['id'], op: '>=', values: [5n], sql: '`id` >= ?', params: [5n] },
    { name: '1 column >', columns: ['id'], op: '>', values: [5n], sql: '`id` > ?', params: [5n] },
    { name: '1 column <', columns: ['id'], op: '<', values: ['x'], sql: '`id` < ?', params: ['x'] },
    {
      name: '2 columns >=',
      columns: ['a', 'b'],
      op: '>=',
      values: [1n, 'y'],
      sql: '(`a` > ? OR (`a` = ? AND `b` >= ?))',
      params: [1n, 1n, 'y'],
    },
    {
      name: '2 columns <',
      columns: ['a', 'b'],
      op: '<',
      values: [1n, 'y'],
      sql: '(`a` < ? OR (`a` = ? AND `b` < ?))',
      params: [1n, 1n, 'y'],
    },
    {
      name: '3 columns >=',
      columns: ['a', 'b', 'c'],
      op: '>=',
      values: ['x', 2n, Buffer.from('z')],
      sql: '(`a` > ? OR (`a` = ? AND `b` > ?) OR (`a` = ? AND `b` = ? AND `c` >= ?))',
      params: ['x', 'x', 2n, 'x', 2n, Buffer.from('z')],
    },
    {
      name: '3 columns >',
      columns: ['a', 'b', 'c'],
      op: '>',
      values: [1n, 2n, 3n],
      sql: '(`a` > ? OR (`a` = ? AND `b` > ?) OR (`a` = ? AND `b` = ? AND `c` > ?))',
      params: [1n, 1n, 2n, 1n, 2n, 3n],
    },
    {
      name: '3 columns <',
      columns: ['a', 'b', 'c'],
      op: '<',
      values: [1n, 2n, 3n],
      sql: '(`a` < ? OR (`a` = ? AND `b` < ?) OR (`a` = ? AND `b` = ? AND `c` < ?))',
      params: [1n, 1n, 2n, 1n, 2n, 3n],
    },
    {
      name: 'odd column names are backtick-quoted, backticks doubled',
      columns: ['we`ird', 'a b.c', '列 名'],
      op: '>=',
      values: [1n, 2n, 3n],
      sql: '(`we``ird` > ? OR (`we``ird` = ? AND `a b.c` > ?) OR (`we``ird` = ? AND `a b.c` = ? AND `列 名` >= ?))',
      params: [1n, 1n, 2n, 1n, 2n, 3n],
    },
    {
      name: 'a name that is only a backtick, and one that looks like SQL',
      columns: ['`', 'x` OR 1 = 1 OR `y'],
      op: '<',
      values: ['p', 'q'],
      sql: '(```` < ? OR (```` = ? AND `x`` OR 1 = 1 OR ``y` < ?))',
      params: ['p', 'p', 'q'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(tupleCompare(c.columns, c.op, c.values), { sql: c.sql, params: c.params });
    });
  }
});

describe('chunkCondition: exact SQL and params', () => {
  const cases: { name: string; columns: string[]; bounds: ChunkBounds; sql: string; params: KeyValue[] }[] = [
    { name: 'unbounded', columns: ['id'], bounds: { lower: null, upper: null }, sql: '1 = 1', params: [] },
    { name: 'lower only', columns: ['id'], bounds: { lower: [3n], upper: null }, sql: '`id` >= ?', params: [3n] },
    { name: 'upper only', columns: ['id'], bounds: { lower: null, upper: [9n] }, sql: '`id` < ?', params: [9n] },
    { name: '1 column both', columns: ['id'], bounds: { lower: [3n], upper: [9n] }, sql: '`id` >= ? AND `id` < ?', params: [3n, 9n] },
    {
      name: '2 columns both',
      columns: ['a', 'b'],
      bounds: { lower: ['a', 1n], upper: ['c', 2n] },
      sql: '(`a` > ? OR (`a` = ? AND `b` >= ?)) AND (`a` < ? OR (`a` = ? AND `b` < ?))',
      params: ['a', 'a', 1n, 'c', 'c', 2n],
    },
    {
      name: '3 columns both, odd names',
      columns: ['x`', 'y.z', '日'],
      bounds: { lower: [1n, 2n, 3n], upper: [4n, 5n, 6n] },
      sql:
        '(`x``` > ? OR (`x``` = ? AND `y.z` > ?) OR (`x``` = ? AND `y.z` = ? AND `日` >= ?))' +
        ' AND (`x``` < ? OR (`x``` = ? AND `y.z` < ?) OR (`x``` = ? AND `y.z` = ? AND `日` < ?))',
      params: [1n, 1n, 2n, 1n, 2n, 3n, 4n, 4n, 5n, 4n, 5n, 6n],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(chunkCondition(c.columns, c.bounds), { sql: c.sql, params: c.params });
    });
  }
});

describe('generated conditions mean lexicographic order (evaluated by a small SQL interpreter)', () => {
  // Small domains so that ties in leading columns are frequent: that is where a wrong expansion shows.
  const domains: Record<string, (r: () => number) => Scalar> = {
    int: (r) => BigInt(Math.floor(r() * 5) - 2),
    str: (r) => ['', 'a', 'ab', 'b', 'é', '日'][Math.floor(r() * 6)]!,
    bytes: (r) => Buffer.from([[], [0], [0, 0], [1], [0xff]][Math.floor(r() * 5)]!),
  };
  const shapes: { name: string; columns: string[]; kinds: (keyof typeof domains)[] }[] = [
    { name: '1 column int', columns: ['id'], kinds: ['int'] },
    { name: '1 column text', columns: ['k'], kinds: ['str'] },
    { name: '2 columns int, text', columns: ['a', 'b'], kinds: ['int', 'str'] },
    { name: '2 columns bytes, int', columns: ['we`ird', 'a b'], kinds: ['bytes', 'int'] },
    { name: '3 columns int, int, int', columns: ['a', 'b', 'c'], kinds: ['int', 'int', 'int'] },
    { name: '3 columns text, bytes, int; odd names', columns: ['x.y', '`', '列'], kinds: ['str', 'bytes', 'int'] },
  ];

  for (const shape of shapes) {
    const randomTuple = (r: () => number): KeyValue[] => shape.kinds.map((k) => domains[k]!(r));

    test(`tupleCompare agrees with the reference order: ${shape.name}`, () => {
      const r = prng(0xc0ffee ^ shape.columns.length);
      for (let n = 0; n < 300; n++) {
        const pivot = randomTuple(r);
        const preds = {
          '>=': compile(shape.columns, tupleCompare(shape.columns, '>=', pivot)),
          '>': compile(shape.columns, tupleCompare(shape.columns, '>', pivot)),
          '<': compile(shape.columns, tupleCompare(shape.columns, '<', pivot)),
        };
        for (let m = 0; m < 20; m++) {
          const t = m === 0 ? pivot : randomTuple(r);
          const c = compareTuple(t, pivot);
          assert.equal(preds['>='](t), c >= 0, `>= ${String(t)} vs ${String(pivot)}`);
          assert.equal(preds['>'](t), c > 0, `> ${String(t)} vs ${String(pivot)}`);
          assert.equal(preds['<'](t), c < 0, `< ${String(t)} vs ${String(pivot)}`);
        }
      }
    });

    test(`every tuple falls in exactly one chunk of a keyset split: ${shape.name}`, () => {
      const r = prng(0xbeef + shape.columns.length * 7919);
      for (let round = 0; round < 40; round++) {
        // Boundaries: distinct tuples in strictly increasing order, as keysetSplit produces them.
        const candidates: KeyValue[][] = [];
        const nb = Math.floor(r() * 8);
        for (let i = 0; i < nb; i++) candidates.push(randomTuple(r));
        candidates.sort(compareTuple);
        const boundaries = candidates.filter((t, i) => i === 0 || compareTuple(t, candidates[i - 1]!) !== 0);
        const chunks = keysetChunks(boundaries);
        assert.equal(chunks.length, boundaries.length + 1);
        const preds = chunks.map((ch) => compile(shape.columns, chunkCondition(shape.columns, ch)));
        const probes = [...boundaries];
        for (let i = 0; i < 200; i++) probes.push(randomTuple(r));
        for (const t of probes) {
          const hits = preds.map((p, i) => (p(t) ? i : -1)).filter((i) => i >= 0);
          assert.equal(
            hits.length,
            1,
            `tuple ${String(t)} hit chunks ${hits.join(',')} of boundaries ${JSON.stringify(boundaries.map(String))}`,
          );
          assert.ok(inBounds(t, chunks[hits[0]!]!), 'and it is the chunk the reference order picks');
        }
      }
    });
  }
});

describe('the interpreter used above has teeth', () => {
  test('a wrong expansion (>= on the leading column) is told apart from lexicographic >', () => {
    const wrong = compile(['a', 'b'], { sql: '(`a` >= ? OR (`a` = ? AND `b` > ?))', params: [1n, 1n, 5n] });
    assert.equal(wrong([1n, 0n]), true); // (1,0) > (1,5) is false, the wrong SQL says true
    assert.equal(compareTuple([1n, 0n], [1n, 5n]) > 0, false);
  });
  test('AND binds tighter than OR, params are numbered left to right', () => {
    const p = compile(['a', 'b'], { sql: '`a` = ? OR `a` = ? AND `b` < ?', params: [1n, 2n, 0n] });
    assert.equal(p([1n, 9n]), true);
    assert.equal(p([2n, 9n]), false);
    assert.equal(p([2n, -1n]), true);
  });
  test('unknown SQL shapes are rejected, not misread', () => {
    assert.throws(() => parse('`a` <= ?'));
    assert.throws(() => parse('a > ?'));
    assert.throws(() => parse('(`a` > ?'));
    assert.throws(() => parse('`a` > ? XOR `b` > ?'));
  });
});
