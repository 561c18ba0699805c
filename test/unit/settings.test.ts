import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readSettings } from '../../src/shared/settings.js';

test('DMQ_TOKEN: empty means none, short is refused naming the variable, a real one is kept', () => {
  assert.equal(readSettings({ DMQ_TOKEN: '' }).DMQ_TOKEN, undefined);
  assert.equal(readSettings({}).DMQ_TOKEN, undefined);
  assert.equal(readSettings({ DMQ_TOKEN: 'a-long-enough-token' }).DMQ_TOKEN, 'a-long-enough-token');
  assert.throws(
    () => readSettings({ DMQ_TOKEN: 'short' }),
    (err: Error & { code?: string; workaround?: string }) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /DMQ_TOKEN: must be at least 12 characters/);
      assert.match(err.workaround ?? '', /dmq serve --help/);
      return true;
    },
  );
});

test('DMQ_REQUIRE_SECRET_KEY: true or 1 requires a key, false, 0 or unset does not, anything else is refused', () => {
  assert.equal(readSettings({}).DMQ_REQUIRE_SECRET_KEY, false);
  assert.equal(readSettings({ DMQ_REQUIRE_SECRET_KEY: '' }).DMQ_REQUIRE_SECRET_KEY, false);
  assert.equal(readSettings({ DMQ_REQUIRE_SECRET_KEY: '0' }).DMQ_REQUIRE_SECRET_KEY, false);
  assert.equal(readSettings({ DMQ_REQUIRE_SECRET_KEY: 'true' }).DMQ_REQUIRE_SECRET_KEY, true);
  assert.equal(readSettings({ DMQ_REQUIRE_SECRET_KEY: '1' }).DMQ_REQUIRE_SECRET_KEY, true);
  assert.throws(() => readSettings({ DMQ_REQUIRE_SECRET_KEY: 'yes please' }), /DMQ_REQUIRE_SECRET_KEY: expected true or false/);
});
