import { createInterface } from 'node:readline';
import { DmqError } from '../shared/errors.js';

/**
 * The first line of standard input: how secrets reach the CLI without showing in the process
 * list (`ps`, /proc/<pid>/cmdline), which every user of the machine can read.
 */
export async function readSecretLine(what: string, flag: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`${what}: `);
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY, terminal: false });
  const first = await lines[Symbol.asyncIterator]().next();
  lines.close();
  if (!first.done && first.value !== '') return first.value;
  throw new DmqError('CONFIG_INVALID', `${flag}: no ${what} on standard input`, {
    where: flag,
    workaround: `pipe it in, e.g. printf '%s\\n' "$SECRET" | dmq ...`,
  });
}
