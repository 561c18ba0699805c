import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { SETTINGS_HELP } from '../../src/shared/settings.js';
import { CONFIG_DOC, renderConfigDoc } from '../../scripts/config-docs.js';

test('docs/configuration.md lists exactly the keys the parser accepts and ignores', async () => {
  const doc = await readFile(CONFIG_DOC, 'utf8');
  assert.equal(renderConfigDoc(doc), doc, 'run: npx tsx scripts/config-docs.ts');
});

test('docs/configuration.md documents every service setting dmq serve reads', async () => {
  const doc = await readFile(CONFIG_DOC, 'utf8');
  for (const [name] of SETTINGS_HELP) assert.match(doc, new RegExp(`\\| \`${name}\` \\|`), name);
});
