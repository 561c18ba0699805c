import { DmqError } from '../shared/errors.js';

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** Talks to a running `dmq serve` the way dmctl talks to dm-master. */
export function apiClient(masterAddr: string, token?: string) {
  const base = /^https?:\/\//.test(masterAddr) ? masterAddr.replace(/\/$/, '') : `http://${masterAddr}`;
  return {
    base,
    async request(method: string, path: string, body?: { json: unknown }): Promise<ApiResponse> {
      // The server takes a POST without a body only with this header: a web page cannot send it unasked.
      const headers: Record<string, string> = { 'x-requested-by': 'dmq-cli', ...(token ? { authorization: `Bearer ${token}` } : {}) };
      let payload: string | undefined;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(body.json);
      }
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, { method, headers, body: payload });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new DmqError('API_UNREACHABLE', `cannot reach dmq at ${base} (${cause})`, {
          cause: err,
          workaround: 'start it with `dmq serve`, or pass --master-addr host:port (or set DMQ_MASTER_ADDR)',
        });
      }
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // Non-JSON bodies (a proxy's error page) are shown as text.
      }
      return { status: res.status, body: parsed };
    },
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
