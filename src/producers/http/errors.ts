import type { FastifyReply } from 'fastify';
import { DmqError, toErrorRecord, type DmqErrorCode } from '../../shared/errors.js';

const STATUS: Partial<Record<DmqErrorCode, number>> = {
  CONFIG_INVALID: 400,
  CONFIG_YAML: 400,
  SOURCE_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  MEDIA_TYPE_REFUSED: 415,
  SOURCE_EXISTS: 409,
  TASK_EXISTS: 409,
  DIFF_RUNNING: 409,
  DIFF_NOT_FOUND: 404,
  SCHEMA_NOT_TRACKED: 404,
  REDIS_UNAVAILABLE: 503,
  CONNECT_FAILED: 502,
  ACCESS_DENIED: 502,
  TLS_FAILED: 502,
};

/**
 * DM's OpenAPI error fields (`error_code`, `error_msg`) next to dmq's own (`code`, `message`,
 * `workaround`, `where`), so both dmctl-era scripts and people get what they need.
 */
export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const record = toErrorRecord(err);
  const status = err instanceof DmqError ? (STATUS[err.code] ?? 500) : 500;
  return reply.code(status).send({ error_code: record.code, error_msg: record.message, ...record });
}
