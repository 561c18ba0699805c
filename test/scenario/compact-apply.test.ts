import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { buildStatements, type ApplyTable, type RowChange, type Statement } from '../../src/processors/apply/statements.js';
import type { RowValue } from '../../src/shared/binlog/payload-values.js';
import { getStack } from '../harness/stack.js';
import { prng } from '../support/prng.js';

/**
 * A run of changes of a table whose only unique index is its key comes down to each key's net
 * change (statements.ts). Random runs over a few keys (inserts, updates in place and of the key,
 * deletes, keys taken again) are written to the real target three ways: one statement per
 * change as the binlog has them, compacted, and compacted in safe mode twice over (a replay);
 * every table must hold exactly the rows the run leaves.
 */
const DB = 'compact_apply';
const TABLES = ['serial', 'compact', 'safe'] as const;
const COLUMNS = ['id', 'name', 'n'];
const KEYS = 12;

let conn: mysql.Connection;

before(async () => {
  conn = await mysql.createConnection((await getStack()).target);
  await conn.query(`DROP DATABASE IF EXISTS ${DB}`);
  await conn.query(`CREATE DATABASE ${DB}`);
  for (const t of TABLES) await conn.query(`CREATE TABLE ${DB}.${t} (id INT PRIMARY KEY, name VARCHAR(20), n INT)`);
});

after(async () => {
  await conn?.query(`DROP DATABASE IF EXISTS ${DB}`);
  await conn?.end();
});

const table = (name: string, soleKey: boolean): ApplyTable => ({
  target: { schema: DB, table: name },
  columns: COLUMNS,
  key: ['id'],
  ...(soleKey ? { soleKey, uniqueColumns: [] } : {}),
});

/** A run of `length` changes that the source could have logged, from `rows` on; `rows` ends as the run leaves it. */
function randomRun(random: () => number, rows: Map<number, RowValue[]>, length: number): RowChange[] {
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const ids = Array.from({ length: KEYS }, (_, i) => i + 1);
  const changes: RowChange[] = [];
  while (changes.length < length) {
    const present = ids.filter((id) => rows.has(id));
    const absent = ids.filter((id) => !rows.has(id));
    const roll = random();
    if ((roll < 0.25 || present.length === 0) && absent.length > 0) {
      const row = [pick(absent), `i${changes.length}`, Math.floor(random() * 100)];
      rows.set(row[0] as number, row);
      changes.push({ op: 'insert', after: row });
    } else if (roll < 0.4 && present.length > 0) {
      const id = pick(present);
      changes.push({ op: 'delete', before: rows.get(id)! });
      rows.delete(id);
    } else if (present.length > 0) {
      const before = rows.get(pick(present))!;
      const moves = random() < 0.2 && absent.length > 0;
      const after = [
        moves ? pick(absent) : before[0]!,
        random() < 0.5 ? before[1]! : `u${changes.length}`,
        random() < 0.7 ? Number(before[2]) + 1 : before[2]!,
      ];
      rows.delete(before[0] as number);
      rows.set(after[0] as number, after);
      changes.push({ op: 'update', before, after });
    }
  }
  return changes;
}

async function run(statements: Statement[]): Promise<void> {
  for (const s of statements) await conn.query(s.sql, s.values);
}

async function contents(name: string): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT id, name, n FROM ${DB}.${name} ORDER BY id`);
  return JSON.stringify(rows.map((r) => [r.id, r.name, r.n]));
}

test('compacted changes leave the rows one statement per change leaves, in safe mode too and when replayed', async () => {
  let serialStatements = 0;
  let compactStatements = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const random = prng(seed);
    const rows = new Map<number, RowValue[]>();
    for (let id = 1; id <= KEYS / 2; id++) rows.set(id, [id, `s${id}`, id]);
    const start = [...rows.values()];
    for (const t of TABLES) {
      await conn.query(`DELETE FROM ${DB}.${t}`);
      await conn.query(`INSERT INTO ${DB}.${t} (id, name, n) VALUES ?`, [start]);
    }
    const changes = randomRun(random, rows, 5 + Math.floor(random() * 30));
    const expected = JSON.stringify([...rows.values()].sort((a, b) => Number(a[0]) - Number(b[0])));

    const serial = buildStatements(table('serial', false), changes, { safeMode: false });
    const compact = buildStatements(table('compact', true), changes, { safeMode: false });
    const safe = buildStatements(table('safe', true), changes, { safeMode: true });
    serialStatements += serial.length;
    compactStatements += compact.length;
    await run(serial);
    await run(compact);
    await run(safe);
    await run(safe);
    const changed = JSON.stringify(changes);
    assert.equal(await contents('serial'), expected, `one statement per change, seed ${seed}: ${changed}`);
    assert.equal(await contents('compact'), expected, `compacted, seed ${seed}: ${changed}`);
    assert.equal(await contents('safe'), expected, `compacted in safe mode, applied twice, seed ${seed}: ${changed}`);
  }
  assert.ok(compactStatements < serialStatements / 2, `compacted runs take fewer statements (${compactStatements} vs ${serialStatements})`);
});
