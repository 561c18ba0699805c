/** Checks of command-line values shared by the benchmarks. */

/** A whole number of at least `min`; `1_000_000` may be written with underscores. */
export function integerOption(name: string, text: string, min: number): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}
