import assert from 'node:assert/strict';

export interface Scrape {
  text: string;
  /** The values of every sample of `name` whose labels include `labels`. */
  get(name: string, labels?: Record<string, string>): number[];
}

/** One scrape of a dmq's `/metrics`, parsed from Prometheus text format: `name{label="value",...} number` per sample. */
export async function scrapeMetrics(addr: string): Promise<Scrape> {
  const res = await fetch(`http://${addr}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const samples = text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(match, `a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
  return {
    text,
    get: (name, labels = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value),
  };
}
