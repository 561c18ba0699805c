import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chainSetsAtSwitch, missingOnServer } from '../../src/producers/binlog/server-switch.js';
import { checkSourceUpdate } from '../../src/shared/config/source-update.js';
import type { SourceConfig } from '../../src/shared/config/types.js';
import { DmqError } from '../../src/shared/errors.js';

const source = (over: Partial<SourceConfig> = {}, from: Partial<SourceConfig['from']> = {}): SourceConfig => ({
  sourceId: 'src1',
  enableGtid: true,
  enableRelay: false,
  flavor: 'mariadb',
  from: { host: 'a.example', port: 3306, user: 'dmq', password: 'secret', ...from },
  notices: [],
  ...over,
});

const refused = (fn: () => void, where: string, message: RegExp) =>
  assert.throws(
    fn,
    (err: unknown) => err instanceof DmqError && err.where === where && message.test(err.message) && Boolean(err.workaround),
  );

test('operate-source update: a new address with GTIDs, a new account or password, pass', () => {
  assert.doesNotThrow(() => checkSourceUpdate(source(), source({}, { host: 'b.example', port: 3307 }), 'src1'));
  assert.doesNotThrow(() => checkSourceUpdate(source({ enableGtid: false }), source({ enableGtid: false }, { password: 'new' }), 'src1'));
  assert.doesNotThrow(() => checkSourceUpdate(source({ enableGtid: false }), source(), 'src1'), 'turning GTIDs on at the same address');
  assert.doesNotThrow(() => checkSourceUpdate(source({ flavor: undefined }), source(), 'src1'), 'a flavor given where none was');
});

test('operate-source update refuses another source-id, another flavor, and a new address without GTIDs, naming the field', () => {
  refused(() => checkSourceUpdate(source(), source({ sourceId: 'src2' }), 'src1'), 'source-id', /says source-id "src2".*"src1"/);
  refused(() => checkSourceUpdate(source(), source({ flavor: 'mysql' }), 'src1'), 'flavor', /is mariadb; the update says flavor: mysql/);
  refused(
    () => checkSourceUpdate(source(), source({ enableGtid: false }, { host: 'b.example' }), 'src1'),
    'enable-gtid',
    /from a\.example:3306 to b\.example:3306 without GTIDs/,
  );
  refused(() => checkSourceUpdate(source({ enableGtid: false }), source({}, { port: 3307 }), 'src1'), 'enable-gtid', /without GTIDs/);
});

test("at a switch, a row's GTID set is its own, else the global one when it stands at or before the global checkpoint", () => {
  const global = { coord: { file: 'bin.000003', pos: 500 }, gtid: '0-1-40', server: 'mariadb:1' };
  const row = (file: string, pos: number, gtid: string | null) => ({ schema: 'db', table: 't', coord: { file, pos }, gtid });
  assert.deepEqual(
    chainSetsAtSwitch(
      global,
      [row('bin.000003', 900, '0-1-52'), row('bin.000002', 77, null), row('', 0, null), row('bin.000003', 500, null)],
      's',
    ),
    ['0-1-52', '0-1-40', '0-1-40', '0-1-40'],
  );
  assert.throws(
    () => chainSetsAtSwitch(global, [row('bin.000003', 501, null)], 's'),
    (err: unknown) => err instanceof DmqError && /`db`.`t` at bin.000003:501 has no GTID set/.test(err.message),
  );
});

test('the new server must hold every transaction the target holds', () => {
  assert.equal(missingOnServer(['0-1-40', '0-1-52'], '0-2-60', 'mariadb'), '');
  assert.equal(missingOnServer(['0-1-40', '0-1-52,1-1-3'], '0-2-50,1-1-3', 'mariadb'), '0-1-52');
  const uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  assert.equal(missingOnServer([`${uuid}:1-10`], `${uuid}:1-8`, 'mysql'), `${uuid}:9-10`);
});
