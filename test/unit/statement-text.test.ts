import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statementText } from '../../src/shared/sql/statement-text.js';

test('statementText: ASCII and UTF-8 statements read back as the bytes they were', () => {
  for (const sql of ["INSERT INTO t VALUES (1,X'00FF')", "INSERT INTO t VALUES (1,'naïve ✓ 😀')", '']) {
    const text = statementText(Buffer.from(sql));
    assert.equal(text, sql);
    assert.deepEqual(Buffer.from(text, 'utf8'), Buffer.from(sql));
  }
});
