import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DmqError } from '../../shared/errors.js';
import { type HostRules, hostAllowed, hostName, originAllowed } from './allowed-hosts.js';
import { sendError } from './errors.js';
import { changesState } from './methods.js';
import { PROBES } from './probes.js';

/**
 * The body types a web page may send to any address without the browser asking that server
 * first (CORS "simple" requests): with one, a page could change dmq from a visitor's browser.
 */
const SIMPLE_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

/** Marks a request without a body as not sent by a web page: a page cannot add it unasked. */
export const CLIENT_HEADER = 'X-Requested-By';

const mediaType = (request: FastifyRequest) => (request.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();

/** Why a request may have come from a page the visitor's browser was made to open, if it may. */
function forgeryRisk(rules: HostRules, request: FastifyRequest, path: string): DmqError | undefined {
  const { host, origin } = request.headers;
  if (host !== undefined && !hostAllowed(rules, host)) {
    return new DmqError('FORBIDDEN', `Host "${host}" is not a name this dmq server answers to`, {
      where: 'Host header',
      workaround: `reach dmq by IP address, localhost or a name in DMQ_ALLOWED_HOSTS; to use ${hostName(host)}, add it to DMQ_ALLOWED_HOSTS (comma-separated) where dmq serve runs`,
    });
  }
  if (origin !== undefined && !originAllowed(rules, origin, host)) {
    return new DmqError('FORBIDDEN', `a web page at ${origin} may not call this dmq server`, {
      where: 'Origin header',
      workaround:
        "use dmq's own pages (/tasks, /dashboard) or the CLI; a page served under another name needs that name in DMQ_ALLOWED_HOSTS",
    });
  }
  if (!changesState(request.method)) return undefined;
  const type = mediaType(request);
  if (SIMPLE_TYPES.has(type)) {
    return new DmqError(
      'MEDIA_TYPE_REFUSED',
      `${request.method} ${path} with Content-Type ${type} is refused: any web page can send that from a visitor's browser`,
      { where: 'Content-Type header', workaround: 'send YAML as application/yaml, or JSON as application/json' },
    );
  }
  // Other methods than POST make a browser ask the server first, which dmq never agrees to.
  if (type === '' && request.method === 'POST' && request.headers[CLIENT_HEADER.toLowerCase()] === undefined) {
    return new DmqError('MEDIA_TYPE_REFUSED', `POST ${path} has neither a Content-Type nor an ${CLIENT_HEADER} header`, {
      where: 'Content-Type header',
      workaround: `send the header ${CLIENT_HEADER} (any value; the dmq CLI does), or a JSON body with Content-Type: application/json`,
    });
  }
  return undefined;
}

/**
 * Refuses requests a web page could make a browser send: through a name an attacker controls
 * (DNS rebinding), from another site's page, or a change without a preflight. Browsers keep
 * the basic-auth token, so the token alone does not tell a person from a page.
 */
export function refuseForgedRequests(app: FastifyInstance, rules: HostRules): void {
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    // Orchestrators probe by whatever name their network gives the container.
    if (PROBES.has(path)) return;
    const risk = forgeryRisk(rules, request, path);
    if (risk) await sendError(reply, risk);
  });
}
