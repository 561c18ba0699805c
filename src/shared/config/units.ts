/**
 * DM's notations for durations and sizes: Go's `time.ParseDuration` ("1m30s") and Docker's
 * `units.RAMInBytes` ("500m": binary multiples, suffix case-insensitive, optional "b"/"ib").
 */

export const GO_DURATION = /^(?:0|(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/;
export const RAM_SIZE = /^\d+(?:\.\d+)?\s?(?:[kmgtp]i?b?|b)?$/i;

const DURATION_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const RAM_POWER: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5 };

/** Milliseconds of a duration GO_DURATION accepts. */
export function goDurationMs(text: string): number {
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(amount) * DURATION_MS[unit!]!;
  return Math.round(ms);
}

/** Bytes of a size RAM_SIZE accepts. */
export function ramSizeBytes(text: string): number {
  const [, amount = '0', unit = ''] = /^(\d+(?:\.\d+)?)\s?([a-z]?)/i.exec(text) ?? [];
  return Math.floor(Number(amount) * 1024 ** (RAM_POWER[unit.toLowerCase()] ?? 0));
}
