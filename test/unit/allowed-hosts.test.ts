import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostAllowed, hostName, originAllowed } from '../../src/producers/http/allowed-hosts.js';

const rules = { own: ['0.0.0.0', 'db-box'], configured: ['dmq.example.com', '.svc.cluster.local'] };

test('the name in a Host header: port, brackets and a trailing dot removed', () => {
  assert.equal(hostName('Example.COM:8261'), 'example.com');
  assert.equal(hostName('[::1]:8261'), '::1');
  assert.equal(hostName('localhost.'), 'localhost');
  assert.equal(hostName('10.0.0.5'), '10.0.0.5');
});

test("Host: IP addresses, localhost, dmq's own names and the listed ones; nothing else", () => {
  for (const host of [
    '127.0.0.1:8261',
    '[::1]:8261',
    '10.1.2.3',
    'localhost:8261',
    'LOCALHOST',
    'app.localhost:8261',
    'db-box:8261',
    'dmq.example.com',
    'dmq.example.com.:443',
    'svc.cluster.local',
    'dmq.ops.svc.cluster.local:8261',
  ]) {
    assert.equal(hostAllowed(rules, host), true, host);
  }
  for (const host of [
    'evil.example',
    'evil.example:8261',
    'localhost.evil.example',
    '127.0.0.1.evil.example',
    'dmq.example.com.evil.example',
    'xdmq.example.com',
    'evilsvc.cluster.local',
    'db-box.evil.example',
  ]) {
    assert.equal(hostAllowed(rules, host), false, host);
  }
});

test("Origin: the page's own server, or a listed name on any port; never another local port or null", () => {
  assert.equal(originAllowed(rules, 'http://127.0.0.1:8261', '127.0.0.1:8261'), true);
  assert.equal(originAllowed(rules, 'http://[::1]:8261', '[::1]:8261'), true);
  assert.equal(originAllowed(rules, 'https://dmq.example.com', '127.0.0.1:8261'), true, 'a proxy rewrote Host');
  assert.equal(originAllowed(rules, 'http://x.svc.cluster.local:9000', 'x.svc.cluster.local:8261'), true);
  assert.equal(originAllowed(rules, 'https://evil.example', '127.0.0.1:8261'), false);
  assert.equal(originAllowed(rules, 'http://127.0.0.1:3000', '127.0.0.1:8261'), false, 'another app on this machine');
  assert.equal(originAllowed(rules, 'http://localhost:8261', '127.0.0.1:8261'), false);
  assert.equal(originAllowed(rules, 'null', '127.0.0.1:8261'), false, 'sandboxed frames and file: pages');
  assert.equal(originAllowed(rules, 'file:///tmp/x.html', '127.0.0.1:8261'), false);
  assert.equal(originAllowed(rules, 'http://127.0.0.1:8261', undefined), false);
});
