import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DmqError } from '../../shared/errors.js';
import { DASHBOARD_PATH } from './dashboard.js';
import { sendError } from './errors.js';
import { changesState } from './methods.js';
import { PROBES } from './probes.js';
import { TASK_PAGE_PATH } from './task-page.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** The secret a request presents: a bearer token, or the password of basic auth (any user). */
function presented(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization ?? '';
  const [scheme, value] = header.split(' ', 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/** The secrets `dmq serve` takes: DMQ_TOKEN may do everything, DMQ_READ_TOKEN only read. */
export interface Tokens {
  admin: string;
  read?: string | undefined;
}

/**
 * With DMQ_TOKEN set, every request but the probes must carry a token. Browsers on the pages
 * are asked for it with basic auth (user name ignored, password = the token).
 */
export function requireToken(app: FastifyInstance, tokens: Tokens): void {
  const admin = digest(tokens.admin);
  const read = tokens.read === undefined ? undefined : digest(tokens.read);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    // Probes must work without credentials: orchestrators call them unauthenticated.
    if (PROBES.has(path)) return;
    const given = presented(request);
    // Compared as digests so the comparison takes the same time whatever the input's length.
    const givenDigest = given === undefined ? undefined : digest(given);
    if (givenDigest && timingSafeEqual(givenDigest, admin)) return;
    if (givenDigest && read && timingSafeEqual(givenDigest, read)) {
      if (!changesState(request.method)) return;
      await sendError(
        reply,
        new DmqError('FORBIDDEN', `${request.method} ${path} changes dmq; the token given is the read-only DMQ_READ_TOKEN`, {
          where: 'Authorization header',
          workaround: 'send the admin token (DMQ_TOKEN) for this request',
        }),
      );
      return;
    }
    // Pages a person opens in a browser: ask for the token as a basic-auth password.
    if (path === '/' || path === TASK_PAGE_PATH || path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`))
      reply.header('www-authenticate', 'Basic realm="dmq", charset="UTF-8"');
    await sendError(
      reply,
      new DmqError(
        'UNAUTHORIZED',
        given === undefined
          ? 'this dmq server requires its token (DMQ_TOKEN, or DMQ_READ_TOKEN to read)'
          : "the token given does not match this dmq server's DMQ_TOKEN or DMQ_READ_TOKEN",
        {
          where: 'Authorization header',
          workaround:
            'send `Authorization: Bearer <token>` (dmq CLI: --token or DMQ_TOKEN; `--token -` reads it from standard input); in a browser, any user name and the token as password',
        },
      ),
    );
  });
}
