/** Health and readiness probes: open without credentials, answered even while Redis is away. */
export const PROBES = new Set(['/healthz', '/readyz']);
