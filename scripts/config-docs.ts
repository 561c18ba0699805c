/**
 * Writes the accepted-and-ignored key tables into docs/configuration.md from the parser's own
 * lists, so the docs cannot drift from what dmq accepts.
 *   npx tsx scripts/config-docs.ts          rewrite the file
 *   npx tsx scripts/config-docs.ts --check  exit 1 if the file is out of date
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ACCEPTED_IGNORED_SOURCE_KEYS } from '../src/shared/config/source.js';
import { ACCEPTED_IGNORED_TASK_KEYS } from '../src/shared/config/task.js';

export const CONFIG_DOC = resolve(import.meta.dirname, '../docs/configuration.md');

function table(keys: readonly { key: string; reason: string }[]): string {
  return ['| key | why dmq accepts and ignores it |', '| --- | --- |', ...keys.map((k) => `| \`${k.key}\` | ${k.reason} |`)].join('\n');
}

export function renderConfigDoc(doc: string): string {
  const replaceBlock = (text: string, name: string, body: string) => {
    const start = `<!-- generated:${name} -->`;
    const end = `<!-- /generated:${name} -->`;
    const from = text.indexOf(start);
    const to = text.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${CONFIG_DOC} lacks the ${start} … ${end} markers`);
    return `${text.slice(0, from + start.length)}\n${body}\n${text.slice(to)}`;
  };
  return replaceBlock(
    replaceBlock(doc, 'task-ignored', table(ACCEPTED_IGNORED_TASK_KEYS)),
    'source-ignored',
    table(ACCEPTED_IGNORED_SOURCE_KEYS),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const doc = await readFile(CONFIG_DOC, 'utf8');
  const rendered = renderConfigDoc(doc);
  if (process.argv.includes('--check')) {
    if (rendered !== doc) {
      console.error(`${CONFIG_DOC} is out of date: run npx tsx scripts/config-docs.ts`);
      process.exit(1);
    }
  } else {
    await writeFile(CONFIG_DOC, rendered);
  }
}
