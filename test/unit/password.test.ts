import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { decryptPassword, encryptPassword, sealEndpoint, unsealEndpoint } from '../../src/shared/config/password.js';
import { DmqError } from '../../src/shared/errors.js';

const SEED = 'VjX8cEeTX+qcvZ3bPaO4h0C80pe/1aU=';

describe('DM-encrypted passwords', () => {
  afterEach(() => {
    delete process.env.DMQ_SECRET_KEY;
  });

  test('the DM example decrypts to 123456 with the default key', () => {
    assert.equal(decryptPassword(SEED), '123456');
  });

  const roundTrips = ['123456', '', 'p@ss w0rd!', 'ünïcødé 密码', 'x'.repeat(200)];
  for (const plain of roundTrips) {
    test(`round trip ${JSON.stringify(plain.slice(0, 20))}`, () => {
      const stored = encryptPassword(plain);
      assert.notEqual(stored, plain);
      const raw = Buffer.from(stored, 'base64');
      assert.equal(raw[16], 0x40, 'IV then @');
      assert.equal(raw.length, 17 + Buffer.byteLength(plain));
      assert.equal(decryptPassword(stored), plain);
    });
  }

  test('each encryption uses a fresh IV', () => {
    assert.notEqual(encryptPassword('same'), encryptPassword('same'));
  });

  const plainTexts = [
    '123456',
    '12345678', // valid base64, but 6 bytes: too short for IV + @
    'secret',
    'my password',
    'abc=def', // not strict base64
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAA', // 21 bytes of zeros: no @ after the IV
    'VjX8cEeTX+qcvZ3b!PaO4h0C80pe/1aU=', // the seed with junk: Go's strict base64 rejects it, so must we
    '',
  ];
  for (const plain of plainTexts) {
    test(`plain text ${JSON.stringify(plain)} passes through`, () => {
      assert.equal(decryptPassword(plain), plain);
    });
  }

  test('DMQ_SECRET_KEY replaces the default key', () => {
    process.env.DMQ_SECRET_KEY = '00'.repeat(32);
    const stored = encryptPassword('hunter2');
    assert.equal(decryptPassword(stored), 'hunter2');
    assert.notEqual(decryptPassword(SEED), '123456');
    delete process.env.DMQ_SECRET_KEY;
    assert.notEqual(decryptPassword(stored), 'hunter2');
  });

  test('a malformed DMQ_SECRET_KEY is a config error', () => {
    process.env.DMQ_SECRET_KEY = 'abc';
    assert.throws(
      () => decryptPassword(SEED),
      (err: unknown) => err instanceof DmqError && err.code === 'CONFIG_INVALID' && /DMQ_SECRET_KEY/.test(err.message),
    );
  });

  test('sealEndpoint encrypts password and TLS key; unsealEndpoint restores them', () => {
    const endpoint = { host: 'h', port: 3306, user: 'u', password: 'pw', security: { sslCa: 'CA', sslKey: 'KEY', verifyHostname: true } };
    const sealed = sealEndpoint(endpoint);
    assert.notEqual(sealed.password, 'pw');
    assert.notEqual(sealed.security?.sslKey, 'KEY');
    assert.equal(sealed.security?.sslCa, 'CA');
    assert.equal(endpoint.password, 'pw', 'input untouched');
    assert.deepEqual(unsealEndpoint(sealed), endpoint);
  });
});
