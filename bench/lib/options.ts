/** Checks of command-line values shared by the benchmarks. */
import type { TargetKind } from '../../test/harness/servers.js';

/** A whole number of at least `min`; `1_000_000` may be written with underscores. */
export function integerOption(name: string, text: string, min: number): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

const TARGET_KINDS: readonly TargetKind[] = ['mariadb', 'tidb'];

/** `--target`: the kind of server dmq writes into. */
export function targetOption(text: string): TargetKind {
  const kind = TARGET_KINDS.find((k) => k === text);
  if (kind === undefined) throw new Error(`--target must be ${TARGET_KINDS.join(' or ')}, got ${JSON.stringify(text)}`);
  return kind;
}
