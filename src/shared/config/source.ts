import { z } from 'zod';
import { DmqError } from '../errors.js';
import {
  ID_PATTERN,
  ID_RULE,
  configError,
  describeEmptyOnly,
  describeIgnored,
  emptyOnlyShape,
  flag,
  ignoredKeysSet,
  ignoredShape,
  nonEmptyText,
  parseShape,
  port,
  strict,
  text,
  zeroAsUnset,
  type IgnoredKey,
} from './fields.js';
import { decryptPassword, sealEndpoint, unsealEndpoint } from './password.js';
import { loadOpenApiTls, loadTls, NO_TLS_FILES, openApiSecuritySchema, securitySchema, type TlsFileAccess } from './security.js';
import type { DbEndpoint, SourceConfig } from './types.js';
import { loadYaml } from './yaml.js';

/**
 * An upstream server, as DM's source.yaml or as the JSON body of DM's OpenAPI
 * `POST /api/v1/sources` (`source_name`, `host`, ..., optionally wrapped in `{ source: ... }`).
 */

const WHAT = 'source config';
const DEFAULT_PORT = 3306;

const IGNORED_SOURCE = {
  enable: "DM's switch to start the source at once; a dmq source is used as soon as a task needs it",
  'relay-dir': 'dmq reads the binlog from the server and keeps no relay log',
  'relay-binlog-name': "dmq keeps no relay log; a task's meta says where replication starts",
  'relay-binlog-gtid': "dmq keeps no relay log; a task's meta says where replication starts",
  'meta-dir': 'DM worker local state; dmq keeps its state in the target',
  charset: 'dmq always connects with utf8mb4',
  purge: 'relay log purging; dmq keeps no relay log',
  checker: "DM's automatic task resume settings",
  tracer: 'deprecated in DM',
  'auto-fix-gtid': 'deprecated in DM',
  'case-sensitive': "applies to source-level filters; the task's case-sensitive applies in dmq",
};

const EMPTY_ONLY_SOURCE = {
  filters: "source-level binlog event filters; put them in the task's filters and filter-rules instead",
};

const IGNORED_FROM = {
  'max-allowed-packet': 'deprecated in DM; the driver negotiates it',
  session: 'dmq sets its own session variables on source connections',
};

const IGNORED_OPENAPI = {
  enable: IGNORED_SOURCE.enable,
  purge: IGNORED_SOURCE.purge,
  status_list: 'status fields of a GET response',
  task_name_list: 'status fields of a GET response',
};

const IGNORED_OPENAPI_RELAY = {
  relay_dir: IGNORED_SOURCE['relay-dir'],
  relay_binlog_name: IGNORED_SOURCE['relay-binlog-name'],
  relay_binlog_gtid: IGNORED_SOURCE['relay-binlog-gtid'],
};

/** Every DM source key dmq accepts without acting on it, with the reason. */
export const ACCEPTED_IGNORED_SOURCE_KEYS: readonly IgnoredKey[] = [
  ...describeIgnored('', IGNORED_SOURCE),
  ...describeEmptyOnly('', EMPTY_ONLY_SOURCE),
  ...describeIgnored('from.', IGNORED_FROM),
  ...describeIgnored('(OpenAPI) ', IGNORED_OPENAPI),
  ...describeIgnored('(OpenAPI) relay_config.', IGNORED_OPENAPI_RELAY),
  { key: '(OpenAPI) worker_name', reason: 'dmq has no workers bound to sources; any processor serves any source' },
];

const serverId = () => {
  const error = 'expected a server id (1-4294967295)';
  return z.int({ error }).min(1, { error }).max(4294967295, { error });
};

// Empty, as in most of DM's own source files: DM, and dmq, read the flavor off the server.
const flavor = () =>
  zeroAsUnset(
    z.preprocess(
      (v) => (typeof v === 'string' ? v.toLowerCase() : v),
      z.enum(['mysql', 'mariadb'], { error: 'expected "mysql", "mariadb" or "" (found out from the server)' }),
    ),
    '',
  );

export const sourceYamlSchema = strict(
  {
    'source-id': nonEmptyText(),
    'server-id': zeroAsUnset(serverId(), 0),
    flavor: flavor(),
    'enable-gtid': flag().optional(),
    'enable-relay': flag().optional(),
    from: strict(
      {
        host: nonEmptyText(),
        port: port().optional(),
        user: nonEmptyText(),
        password: text().optional(),
        security: securitySchema.optional(),
      },
      ignoredShape(IGNORED_FROM),
    ),
  },
  { ...ignoredShape(IGNORED_SOURCE), ...emptyOnlyShape(EMPTY_ONLY_SOURCE) },
);

const openApiSourceSchema = strict(
  {
    source_name: nonEmptyText(),
    host: nonEmptyText(),
    port: port().optional(),
    user: nonEmptyText(),
    password: text().optional(),
    enable_gtid: flag().optional(),
    flavor: flavor(),
    security: openApiSecuritySchema.optional(),
    relay_config: strict({ enable_relay: flag().optional() }, ignoredShape(IGNORED_OPENAPI_RELAY)).optional(),
  },
  ignoredShape(IGNORED_OPENAPI),
);

export const openApiRequestSchema = strict({ source: openApiSourceSchema, worker_name: text().optional() });

/**
 * DM's source.yaml text → SourceConfig. Throws DmqError CONFIG_YAML or CONFIG_INVALID. `files`:
 * which TLS files it may name (none by default; see ./security.ts).
 */
export function parseSourceYaml(text: string, files: TlsFileAccess = NO_TLS_FILES): SourceConfig {
  return parseSourceObject(loadYaml(text, 'source.yaml'), files);
}

/** A source.yaml-shaped value, or a DM OpenAPI source (bare or as `{ source, worker_name }`). */
export function parseSourceObject(obj: unknown, files: TlsFileAccess = NO_TLS_FILES): SourceConfig {
  const issues: string[] = [];
  const source = isOpenApi(obj) ? fromOpenApi(obj, issues) : fromSourceYaml(obj, files, issues);
  if (!ID_PATTERN.test(source.sourceId)) {
    const key = isOpenApi(obj) ? 'source_name' : 'source-id';
    issues.unshift(`${key}: ${JSON.stringify(source.sourceId)} ${ID_RULE} (dmq uses source ids in queue names)`);
  }
  if (issues.length > 0) throw configError(WHAT, issues);
  return source;
}

function isOpenApi(obj: unknown): boolean {
  return typeof obj === 'object' && obj !== null && ('source_name' in obj || 'source' in obj);
}

function fromSourceYaml(obj: unknown, files: TlsFileAccess, issues: string[]): SourceConfig {
  const raw = parseShape(sourceYamlSchema, obj, WHAT);
  const from: DbEndpoint = {
    host: raw.from.host,
    port: raw.from.port ?? DEFAULT_PORT,
    user: raw.from.user,
    password: decryptPassword(raw.from.password ?? ''),
  };
  const security = loadTls(raw.from.security, 'from.security', files, issues);
  if (security) from.security = security;
  const source: SourceConfig = {
    sourceId: raw['source-id'],
    enableGtid: raw['enable-gtid'] ?? false,
    enableRelay: raw['enable-relay'] ?? false,
    from,
    notices: ignoredKeysSet('', raw, IGNORED_SOURCE),
  };
  if (raw['server-id'] !== undefined) source.serverId = raw['server-id'];
  if (raw.flavor !== undefined) source.flavor = raw.flavor;
  return source;
}

function fromOpenApi(obj: unknown, issues: string[]): SourceConfig {
  const raw = 'source' in (obj as object) ? parseShape(openApiRequestSchema, obj, WHAT).source : parseShape(openApiSourceSchema, obj, WHAT);
  const from: DbEndpoint = {
    host: raw.host,
    port: raw.port ?? DEFAULT_PORT,
    user: raw.user,
    password: decryptPassword(raw.password ?? ''),
  };
  const security = loadOpenApiTls(raw.security, 'security', issues);
  if (security) from.security = security;
  const source: SourceConfig = {
    sourceId: raw.source_name,
    enableGtid: raw.enable_gtid ?? false,
    enableRelay: raw.relay_config?.enable_relay ?? false,
    from,
    notices: ignoredKeysSet('', raw, IGNORED_OPENAPI),
  };
  if (raw.flavor !== undefined) source.flavor = raw.flavor;
  return source;
}

/** A JSON-safe copy for persisting, with the password and TLS private key DM-encrypted. */
export function serializeSourceForStore(source: SourceConfig): object {
  return { ...structuredClone(source), from: sealEndpoint(source.from) };
}

/** The inverse of serializeSourceForStore. */
export function sourceFromStore(obj: unknown): SourceConfig {
  const source = obj as SourceConfig;
  if (typeof source?.sourceId !== 'string' || typeof source.from?.password !== 'string') {
    throw new DmqError('INTERNAL', 'stored source config is not in the shape serializeSourceForStore writes');
  }
  // Sources stored before notices existed have none.
  return { ...structuredClone(source), notices: (source as Partial<SourceConfig>).notices ?? [], from: unsealEndpoint(source.from) };
}
