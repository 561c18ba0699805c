import type { z } from 'zod';
import { DmqError } from '../../shared/errors.js';

/**
 * A task or source arrives as YAML text (the file a DM user has) or as JSON. JSON bodies may
 * wrap the config as DM's OpenAPI does: `{ "task": {...}, "remove_meta": true, "start_time": "…" }`.
 */
type ConfigBody = { kind: 'yaml'; text: string } | { kind: 'object'; value: unknown; removeMeta?: boolean; startTime?: string };

export function readConfigBody(body: unknown, wrapperKey: string): ConfigBody {
  if (typeof body === 'string') return { kind: 'yaml', text: body };
  if (body === null || typeof body !== 'object') {
    throw new DmqError('CONFIG_INVALID', 'request body is empty', {
      workaround: 'send the YAML file (Content-Type: application/yaml) or its JSON form',
    });
  }
  const record = body as Record<string, unknown>;
  if (wrapperKey in record && typeof record[wrapperKey] === 'object') {
    const startTime = typeof record.start_time === 'string' && record.start_time !== '' ? { startTime: record.start_time } : {};
    return { kind: 'object', value: record[wrapperKey], removeMeta: record.remove_meta === true, ...startTime };
  }
  return { kind: 'object', value: body };
}

/** A JSON body checked against its schema; the first problem names its field. */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown, expected: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new DmqError('CONFIG_INVALID', `${issue.path.join('.') || 'body'}: ${issue.message}`, {
    where: issue.path.join('.') || 'body',
    workaround: `send ${expected}`,
  });
}
