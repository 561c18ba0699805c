import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisOptions } from '../../src/shared/redis/connection.js';
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

test('DMQ_READ_TOKEN: only beside DMQ_TOKEN and different from it', () => {
  const both = readSettings({ DMQ_TOKEN: 'admin-token-0001', DMQ_READ_TOKEN: 'read-token-00001' });
  assert.equal(both.DMQ_READ_TOKEN, 'read-token-00001');
  assert.equal(readSettings({ DMQ_TOKEN: 'admin-token-0001', DMQ_READ_TOKEN: '' }).DMQ_READ_TOKEN, undefined);
  assert.throws(() => readSettings({ DMQ_READ_TOKEN: 'read-token-00001' }), /DMQ_READ_TOKEN: needs DMQ_TOKEN as well/);
  assert.throws(
    () => readSettings({ DMQ_TOKEN: 'admin-token-0001', DMQ_READ_TOKEN: 'admin-token-0001' }),
    /DMQ_READ_TOKEN: must differ from DMQ_TOKEN/,
  );
  assert.throws(() => readSettings({ DMQ_TOKEN: 'admin-token-0001', DMQ_READ_TOKEN: 'short' }), /DMQ_READ_TOKEN: must be at least 12/);
});

test('DMQ_ALLOWED_HOSTS: comma-separated names, lower-cased; a URL or port is refused naming it', () => {
  assert.deepEqual(readSettings({}).DMQ_ALLOWED_HOSTS, []);
  assert.deepEqual(readSettings({ DMQ_ALLOWED_HOSTS: ' DMQ.example.com, .svc.cluster.local ,api,' }).DMQ_ALLOWED_HOSTS, [
    'dmq.example.com',
    '.svc.cluster.local',
    'api',
  ]);
  for (const bad of ['https://dmq.example.com', 'dmq.example.com:8261', 'dmq.example.com/api', '*']) {
    assert.throws(
      () => readSettings({ DMQ_ALLOWED_HOSTS: `api,${bad}` }),
      (err: Error) => err.message.includes(`DMQ_ALLOWED_HOSTS.1: "${bad}" is not a host name`),
      bad,
    );
  }
});

test('DMQ_REQUIRE_SECRET_KEY: true or 1 requires a key, false, 0 or unset does not, anything else is refused', () => {
  assert.equal(readSettings({}).DMQ_REQUIRE_SECRET_KEY, false);
  assert.equal(readSettings({ DMQ_REQUIRE_SECRET_KEY: '' }).DMQ_REQUIRE_SECRET_KEY, false);
  assert.equal(readSettings({ DMQ_REQUIRE_SECRET_KEY: '0' }).DMQ_REQUIRE_SECRET_KEY, false);
  assert.equal(readSettings({ DMQ_REQUIRE_SECRET_KEY: 'true' }).DMQ_REQUIRE_SECRET_KEY, true);
  assert.equal(readSettings({ DMQ_REQUIRE_SECRET_KEY: '1' }).DMQ_REQUIRE_SECRET_KEY, true);
  assert.throws(() => readSettings({ DMQ_REQUIRE_SECRET_KEY: 'yes please' }), /DMQ_REQUIRE_SECRET_KEY: expected true or false/);
});

test('Redis Sentinel settings: host:port list, master name required with it, the master password from REDIS_URL and never in the description', () => {
  const settings = readSettings({
    REDIS_URL: 'redis://:s3cret-pass@ignored:1/2',
    DMQ_REDIS_SENTINELS: 'sentinel-1:26379, [::1]:26380',
    DMQ_REDIS_MASTER_NAME: 'mymaster',
    DMQ_REDIS_SENTINEL_PASSWORD: 'sentinel-pass',
  });
  assert.deepEqual(settings.DMQ_REDIS_SENTINELS, [
    { host: 'sentinel-1', port: 26379 },
    { host: '::1', port: 26380 },
  ]);
  const { url, options, describe } = redisOptions(settings);
  assert.equal(url, undefined);
  assert.equal(options.name, 'mymaster');
  assert.equal(options.password, 's3cret-pass');
  assert.equal(options.db, 2);
  assert.equal(options.sentinelPassword, 'sentinel-pass');
  assert.equal(options.maxRetriesPerRequest, null);
  assert.doesNotMatch(describe, /s3cret|sentinel-pass/);
  assert.match(describe, /mymaster.*sentinel-1:26379/);

  assert.throws(
    () => readSettings({ DMQ_REDIS_SENTINELS: 'sentinel-1:26379' }),
    /DMQ_REDIS_MASTER_NAME: is required with DMQ_REDIS_SENTINELS/,
  );
  assert.throws(() => readSettings({ DMQ_REDIS_MASTER_NAME: 'mymaster' }), /DMQ_REDIS_SENTINELS: is required with DMQ_REDIS_MASTER_NAME/);
  assert.throws(() => readSettings({ DMQ_REDIS_SENTINELS: 'sentinel-1', DMQ_REDIS_MASTER_NAME: 'm' }), /"sentinel-1" is not host:port/);

  const plain = redisOptions(readSettings({ REDIS_URL: 'redis://:pw-12345@redis:6379' }));
  assert.equal(plain.url, 'redis://:pw-12345@redis:6379');
  assert.doesNotMatch(plain.describe, /pw-12345/);
});
