import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { getStack, redisUrl, resetDatabases, sourceEndpoint, targetEndpoint } from './harness/stack.js';
import type { Endpoint } from './harness/servers.js';

async function variables(server: Endpoint, names: string[]): Promise<Record<string, string>> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT variable_name AS name, variable_value AS value FROM information_schema.global_variables WHERE variable_name IN (?)',
      [names.map((name) => name.toUpperCase())],
    );
    return Object.fromEntries(rows.map((row) => [String(row.name).toLowerCase(), String(row.value)]));
  } finally {
    await conn.end();
  }
}

async function query(server: Endpoint, sql: string): Promise<mysql.RowDataPacket[]> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(sql);
    return rows;
  } finally {
    await conn.end();
  }
}

test('upstreams write full row-based binlogs with their own server ids', async () => {
  for (const index of [0, 1] as const) {
    const upstream = await sourceEndpoint(index);
    assert.equal(upstream.user, 'root');
    assert.equal(upstream.password, '123456');
    assert.deepEqual(await variables(upstream, ['log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'server_id']), {
      log_bin: 'ON',
      binlog_format: 'ROW',
      binlog_row_image: 'FULL',
      binlog_row_metadata: 'FULL',
      server_id: String(index + 1),
    });
  }
});

test('target has no binlog and an empty root password', async () => {
  const target = await targetEndpoint();
  assert.equal(target.password, '');
  assert.deepEqual(await variables(target, ['log_bin', 'server_id']), { log_bin: 'OFF', server_id: '3' });
});

test('root over TCP needs the right password', async () => {
  const upstream = await sourceEndpoint(0);
  await assert.rejects(mysql.createConnection({ ...upstream, password: 'wrong' }), { code: 'ER_ACCESS_DENIED_ERROR' });
  const [grant] = await query(upstream, "SHOW GRANTS FOR 'root'@'%'");
  assert.match(String(Object.values(grant ?? {})[0]), /GRANT ALL PRIVILEGES ON \*\.\* TO `root`@`%`.*WITH GRANT OPTION/);
});

test('redis answers PING', async () => {
  const client = new Redis(await redisUrl(), { lazyConnect: true });
  try {
    await client.connect();
    assert.equal(await client.ping(), 'PONG');
  } finally {
    client.disconnect();
  }
});

test('resetDatabases leaves empty servers', async () => {
  const { upstreams, target } = await getStack();
  for (const server of [...upstreams, target]) {
    await query(server, 'CREATE DATABASE `left over`');
    await query(server, 'CREATE TABLE `left over`.t (id INT PRIMARY KEY)');
  }
  await query(upstreams[0], 'FLUSH BINARY LOGS');
  const client = new Redis(await redisUrl(), { lazyConnect: true });
  try {
    await client.connect();
    await client.set('dmq:test', '1');

    await resetDatabases();

    assert.equal(await client.exists('dmq:test'), 0);
  } finally {
    client.disconnect();
  }
  for (const server of [...upstreams, target]) {
    assert.deepEqual(await query(server, "SHOW DATABASES LIKE 'left over'"), []);
  }
  assert.equal((await query(upstreams[0], 'SHOW BINARY LOGS')).length, 1);
});
