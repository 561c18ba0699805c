import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createReadTables } from '../../src/producers/binlog/read-tables.js';
import type { BinlogEvent } from '../../src/producers/binlog/binlog-stream.js';
import { makeTableFilter } from '../../src/shared/filter/block-allow.js';
import { makeExtractor, makeRouter } from '../../src/shared/filter/route.js';

const rules = {
  filter: makeTableFilter(null, { caseSensitive: false }),
  route: makeRouter([], false),
  extractColumns: makeExtractor([], false),
  hasExpressionFilters: () => false,
};

/** zongji's shared map of the connection, which every tablemap and rows event points at. */
const zongjiMap: Record<number, { parentSchema: string; tableName: string; columns: { name: string; type: number }[] }> = {};

function tablemap(tableId: number, table: string): BinlogEvent {
  zongjiMap[tableId] = { parentSchema: 'db', tableName: table, columns: [{ name: 'id', type: 3 }] };
  return {
    getEventName: () => 'tablemap',
    nextPosition: 0,
    timestamp: 0,
    tableId,
    schemaName: 'db',
    tableName: table,
    columnCount: 1,
    columnNames: ['id'],
    columnTypes: [3],
    primaryKey: [0],
    tableMap: zongjiMap,
  };
}

const rows = (tableId: number): BinlogEvent => ({
  getEventName: () => 'writerows',
  nextPosition: 0,
  timestamp: 0,
  tableId,
  tableMap: zongjiMap,
  rows: [],
});

test('table ids churning (each DDL or reopen gives a table a new id) leave one remembered id per table', () => {
  const tables = createReadTables('s1', rules, (err) => assert.fail(String(err)));
  const coord = { file: 'bin.000001', pos: 4 };
  // Two tables reopened 500 times each, as a long-running source with DDLs and FLUSH TABLES does.
  for (let i = 0; i < 500; i++) {
    for (const [offset, table] of [
      [0, 'a'],
      [1, 'b'],
    ] as const) {
      const id = 100 + i * 2 + offset;
      tables.map(tablemap(id, table), coord);
      assert.equal(tables.of(rows(id))?.table, table);
    }
  }
  assert.equal(tables.size(), 2);
  assert.equal(Object.keys(zongjiMap).length, 2, "zongji's own map is pruned too");
  // The current ids still decode.
  assert.equal(tables.of(rows(100 + 499 * 2))?.table, 'a');
  assert.equal(tables.of(rows(100 + 499 * 2 + 1))?.table, 'b');
});
