import type { ErrorRecord } from '../../shared/errors.js';

/** DM's error object in query-status, so scripts written for dmctl find the same fields. */
export function dmError(e: ErrorRecord) {
  return {
    ErrCode: e.code,
    ErrClass: 'dmq',
    ErrScope: e.where ?? 'internal',
    ErrLevel: 'high',
    Message: e.message,
    RawCause: e.cause ?? '',
    Workaround: e.workaround ?? '',
  };
}
