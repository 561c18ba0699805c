import { pino, type Logger } from 'pino';

/** Keys whose values never reach a log line, wherever they sit in a logged object. */
const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  '*.*.*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
];

export const logger: Logger = pino({
  level: process.env.DMQ_LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
  redact: { paths: REDACT_PATHS, censor: '******' },
});

export type { Logger };
