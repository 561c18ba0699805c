import { z } from 'zod';
import { DmqError } from '../errors.js';
import type { ConfigNotice } from './types.js';

/**
 * Building blocks for the DM config schemas, and the one place zod's issues become messages
 * in DM's own notation (`mysql-instances[1].source-id: required`). Every leaf schema carries
 * its own wording ("expected a positive integer") so messages read the same everywhere.
 */

/** Task names and source ids end up in queue, key and table names. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const ID_RULE = 'must be 1 to 64 letters, digits, "_" or "-"';

/** A DM key dmq reads but does not act on, with the reason, for docs and error hints. */
export interface IgnoredKey {
  key: string;
  reason: string;
}

// DM's Go YAML decoder fills string fields from any scalar (`password: 123456`); the YAML
// loader keeps numbers whose text would not survive String() as text, so this is exact.
const numberAsText = (value: unknown): unknown => (typeof value === 'number' ? String(value) : value);

export const text = () => z.preprocess(numberAsText, z.string({ error: 'expected a string' }));

export const nonEmptyText = () =>
  z.preprocess(numberAsText, z.string({ error: 'expected a string' }).min(1, { error: 'must not be empty' }));

/**
 * DM decodes YAML into Go structs, where a key holding its type's zero value (`""`, `0`) reads
 * the same as a key left out, and DM then applies its default. Fields where DM does that take
 * their zero as "unset" here too.
 */
export const zeroAsUnset = <T extends z.ZodType>(schema: T, zero: '' | 0) =>
  z.preprocess((value) => (value === zero ? undefined : value), schema.optional()).optional();

/** A count DM declares as an integer, also accepted when quoted (`binlog-pos: "4"`), as DM's decoder does. */
export const quotedInt = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value), schema);

export const flag = () => z.boolean({ error: 'expected true or false' });

export const positiveInt = () => {
  const error = 'expected a positive integer';
  return z.int({ error }).min(1, { error }).max(Number.MAX_SAFE_INTEGER, { error });
};

export const nonNegativeInt = () => {
  const error = 'expected a non-negative integer';
  return z.int({ error }).min(0, { error }).max(Number.MAX_SAFE_INTEGER, { error });
};

export const port = () => {
  const error = 'expected a port number (1-65535)';
  return z.int({ error }).min(1, { error }).max(65535, { error });
};

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });

export const list = <T extends z.ZodType>(item: T) => z.array(item, { error: 'expected a list' });

/** DM's named maps (`routes`, `mydumpers`, ...): name → settings. */
export const namedMap = <T extends z.ZodType>(item: T) => z.record(z.string(), item, { error: 'expected a mapping of names to settings' });

/**
 * A mapping that rejects unknown keys. `accepted` keys are allowed but left out of the
 * "allowed" list users see. The unrecognized_keys message carries the allowed key names
 * (comma separated) for formatIssues, which has the path this error callback lacks.
 */
// biome-ignore lint/complexity/noBannedTypes: `{}` is zod's own empty shape; a Record type widens the inferred output
export function strict<S extends z.ZodRawShape, A extends z.ZodRawShape = {}>(shape: S, accepted?: A) {
  const visible = Object.keys(shape).join(', ');
  return z.strictObject(
    { ...shape, ...(accepted ?? ({} as A)) },
    {
      error: (issue) => (issue.code === 'unrecognized_keys' ? visible : 'expected a mapping'),
    },
  );
}

/** Shape entries for keys dmq accepts and ignores. */
export function ignoredShape<T extends Record<string, string>>(keys: T) {
  return Object.fromEntries(Object.keys(keys).map((key) => [key, z.unknown().optional()])) as {
    [K in keyof T]: z.ZodOptional<z.ZodUnknown>;
  };
}

const isEmpty = (value: unknown): boolean =>
  value === undefined ||
  value === null ||
  value === '' ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && value !== null && Object.keys(value).length === 0);

/**
 * Shape entries for DM keys that change which rows or values arrive: dmq cannot honour them,
 * and silently ignoring them would migrate different data, so they are accepted only empty.
 */
export function emptyOnlyShape<T extends Record<string, string>>(keys: T) {
  return Object.fromEntries(
    Object.entries(keys).map(([key, reason]) => [
      key,
      z
        .unknown()
        .refine(isEmpty, { error: `not supported by dmq: ${reason}` })
        .optional(),
    ]),
  ) as { [K in keyof T]: z.ZodOptional<z.ZodUnknown> };
}

/**
 * The ignored keys of `keys` that `section` sets to something other than nothing, as notices at
 * `prefix`: `false` and `0` ask for nothing either, so a dumped config full of defaults is quiet.
 */
export function ignoredKeysSet(prefix: string, section: unknown, keys: Record<string, string>): ConfigNotice[] {
  if (section === null || typeof section !== 'object') return [];
  const values = section as Record<string, unknown>;
  return Object.entries(keys)
    .filter(([key]) => Object.hasOwn(values, key) && !isEmpty(values[key]) && values[key] !== false && values[key] !== 0)
    .map(([key, reason]) => ({ field: prefix + key, note: `accepted, not acted on: ${reason}` }));
}

export function describeIgnored(prefix: string, keys: Record<string, string>): IgnoredKey[] {
  return Object.entries(keys).map(([key, reason]) => ({ key: prefix + key, reason }));
}

export function describeEmptyOnly(prefix: string, keys: Record<string, string>): IgnoredKey[] {
  return Object.entries(keys).map(([key, reason]) => ({ key: prefix + key, reason: `accepted only when empty: ${reason}` }));
}

/** DM's notation for a location: `mysql-instances[0].mydumper.threads`. */
function dmPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function showValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'a mapping';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

const SHOWS_INPUT = new Set(['invalid_type', 'invalid_value', 'invalid_union', 'invalid_format', 'not_multiple_of']);
const MISSING = new Set(['invalid_type', 'invalid_value', 'invalid_union']);

function got(issue: z.core.$ZodIssue): string {
  if (SHOWS_INPUT.has(issue.code)) return `, got ${showValue(issue.input)}`;
  // A size limit on a list or string: the value itself says nothing more.
  if ((issue.code === 'too_small' || issue.code === 'too_big') && (issue.origin === 'number' || issue.origin === 'int')) {
    return `, got ${showValue(issue.input)}`;
  }
  return '';
}

const normalizeKey = (key: string) => key.toLowerCase().replace(/_/g, '-');

function unknownKeyLines(issue: z.core.$ZodIssueUnrecognizedKeys): string[] {
  const at = issue.path.length === 0 ? 'top level' : dmPath(issue.path);
  const allowed = issue.message.split(', ');
  return issue.keys.map((key) => {
    const near = allowed.find((candidate) => normalizeKey(candidate) === normalizeKey(key));
    const hint = near ? `did you mean "${near}"?` : `allowed: ${issue.message}`;
    return `unknown field "${key}" at ${at}; ${hint}`;
  });
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') return unknownKeyLines(issue);
    const at = issue.path.length === 0 ? 'top level' : dmPath(issue.path);
    if (MISSING.has(issue.code) && issue.input === undefined) return [`${at}: required`];
    return [`${at}: ${issue.message}${got(issue)}`];
  });
}

/** YAML leaves `key:` with nothing after it as null; DM's Go decoder treats it as absent. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, dropNulls(v)]),
  );
}

export function parseShape<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const result = schema.safeParse(dropNulls(input), { reportInput: true });
  if (!result.success) throw configError(what, formatIssues(result.error));
  return result.data;
}

export function configError(what: string, issues: string[]): DmqError {
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return new DmqError('CONFIG_INVALID', `${what} has ${count}:\n${issues.join('\n')}`, {
    where: what,
    workaround: "fix the fields named above (paths use DM's key names) and submit again",
  });
}
