/** How the benchmarks print numbers, times and tables. */

export const MiB = 1024 * 1024;
export const int = (n: number) => Math.round(n).toLocaleString('en-US');
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
export const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
export const perSec = (n: number, ms: number) => (ms > 0 ? n / (ms / 1000) : 0);
export const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

export function log(message: string): void {
  const clock = new Date().toISOString().slice(11, 19);
  console.log(`[${clock}] ${message}`);
}

/** Columns aligned: the first (names) and, with `textLast`, the last (notes) to the left, numbers to the right. */
export function table(rows: string[][], textLast = false): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  const last = widths.length - 1;
  const align = (cell: string, col: number) =>
    col === 0 || (textLast && col === last) ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!);
  return rows.map((r) => r.map(align).join('  ').trimEnd()).join('\n');
}
