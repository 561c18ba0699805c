/**
 * The normalized, validated shape of DM's task.yaml and source.yaml that the rest of dmq uses.
 * Parsing (YAML, zod, DM aliases, named maps, password decryption) lives in ./task.ts and
 * ./source.ts; everything downstream sees only these types, with plain-text passwords.
 */

export type TaskMode = 'full' | 'incremental' | 'all' | 'dump' | 'load';

export type ShardMode = '' | 'pessimistic' | 'optimistic';
export type OnDuplicate = 'replace' | 'error' | 'ignore';

/**
 * TLS to one server: PEM contents, never file paths (see ./security.ts), so any process on any
 * host can connect. Present means every connection to that server uses TLS.
 */
export interface TlsConfig {
  /** CAs the server's certificate must chain to; absent: Node's default CA store. */
  sslCa?: string;
  /** Client certificate (chain) and its private key, for servers that ask for one. */
  sslCert?: string;
  sslKey?: string;
  /** DM's cert-allowed-cn: the server certificate's common name must be one of these. */
  certAllowedCn?: string[];
  /** The server's certificate must be issued for the host name or address dmq connects to. */
  verifyHostname: boolean;
}

export interface DbEndpoint {
  host: string;
  port: number;
  user: string;
  /** Plain text, already decrypted. Never logged, never put in a job payload. */
  password: string;
  security?: TlsConfig;
}

export interface TargetConfig extends DbEndpoint {
  /** Session variables set on every target connection (DM `target-database.session`). */
  session: Record<string, string | number>;
}

export interface TableRef {
  schema: string;
  table: string;
}

/** A name pattern as DM writes it: a wildcard (`*`, `?`, `[...]`) or, with a leading `~`, a regex. */
export type NamePattern = string;

export interface BlockAllowList {
  doDbs: NamePattern[];
  ignoreDbs: NamePattern[];
  doTables: { dbName: NamePattern; tblName: NamePattern }[];
  ignoreTables: { dbName: NamePattern; tblName: NamePattern }[];
}

export interface RouteRule {
  /** The key of the rule under `routes:`, for error messages. */
  name: string;
  schemaPattern: NamePattern;
  tablePattern?: NamePattern;
  targetSchema: string;
  targetTable?: string;
  extractTable?: { tableRegexp: string; targetColumn: string };
  extractSchema?: { schemaRegexp: string; targetColumn: string };
  extractSource?: { sourceRegexp: string; targetColumn: string };
}

export type FilterAction = 'Do' | 'Ignore' | 'Error';

export interface EventFilterRule {
  name: string;
  schemaPattern: NamePattern;
  tablePattern?: NamePattern;
  events: string[];
  sqlPattern: string[];
  action: FilterAction;
}

/**
 * DM's `expression-filter.<name>`: rows of one source table (exact schema and table names)
 * left out when an SQL expression over their values evaluates to 1. Each filter holds one kind:
 * an insert expression, update expressions (old and new values must both match; a missing
 * side counts as true), or a delete expression.
 */
export interface ExpressionFilter {
  /** The key under `expression-filter:`, for messages. */
  name: string;
  schema: string;
  table: string;
  insertValueExpr?: string;
  updateOldValueExpr?: string;
  updateNewValueExpr?: string;
  deleteValueExpr?: string;
}

export interface DumperConfig {
  threads: number;
  /** Rows per chunk (mydumper `rows`); 0 means dmq picks (see DEFAULT_CHUNK_ROWS). */
  rows: number;
  chunkFilesize?: number;
  extraArgs: string;
  /** `-B db` / `--database` from extra-args: only these schemas (empty: no narrowing). */
  onlyDbs: string[];
  /** `-T t` / `--tables-list` from extra-args: only these tables, as given (`t` or `db.t`). */
  onlyTables: string[];
  /** `--no-locks` or `--consistency none` in extra-args. */
  noLocks: boolean;
}

export interface LoaderConfig {
  poolSize: number;
  dir?: string;
  onDuplicate: OnDuplicate;
}

export interface SyncerConfig {
  workerCount: number;
  /** `worker-count` when the task sets it: how many lanes a table is split into (none when unset). */
  lanes?: number;
  batch: number;
  safeMode: boolean;
  safeModeDuration: string;
  compact: boolean;
  multipleRows: boolean;
}

export type ValidationMode = 'full' | 'fast' | 'none';

/**
 * DM's `validators.<name>`: after changes are applied, read the rows they touched back from the
 * target and compare them with the binlog's row images (full: every column; fast: whether the
 * row exists). Durations in milliseconds, sizes in bytes.
 */
export interface ValidatorConfig {
  mode: ValidationMode;
  /** Tables compared at once. */
  workerCount: number;
  /** How often the validator compares what is pending. */
  validateIntervalMs: number;
  /** DM's interval for re-checking failed rows; dmq re-checks them at every validate-interval. */
  checkIntervalMs: number;
  /** How long a row keeps failing before it is reported as an error. */
  rowErrorDelayMs: number;
  /** How often the validator's status row (counts, position) is written at the latest. */
  metaFlushIntervalMs: number;
  /** Rows compared per target query. */
  batchQuerySize: number;
  /** More pending row images than this (bytes) stops the validator with an error. */
  maxPendingRowSize: number;
  /** More pending rows than this stops the validator with an error. */
  maxPendingRowCount: number;
  /** Only changes written at or after this time (source clock, the task's zone) are validated. */
  startTime?: string;
}

/** Where replication starts for an incremental task: DM's `mysql-instances[].meta`. */
export interface StartPosition {
  binlogName?: string;
  binlogPos?: number;
  binlogGtid?: string;
}

export interface InstanceConfig {
  sourceId: string;
  startPosition?: StartPosition;
  blockAllowList: BlockAllowList | null;
  routes: RouteRule[];
  filters: EventFilterRule[];
  /** `expression-filters`: the named expression filters this instance applies. */
  expressionFilters: ExpressionFilter[];
  mydumper: DumperConfig;
  loader: LoaderConfig;
  syncer: SyncerConfig;
  validator: ValidatorConfig;
}

/**
 * A DM field dmq accepted without doing what it asks, and what happens instead. Only fields whose
 * neglect cannot change the data migrated end up here; precheck reports each as a warning.
 */
export interface ConfigNotice {
  /** DM's path of the field: `syncers.global.queue-size`. */
  field: string;
  note: string;
}

export interface TaskConfig {
  name: string;
  taskMode: TaskMode;
  shardMode: ShardMode;
  metaSchema: string;
  timezone?: string;
  caseSensitive: boolean;
  onlineDdl: boolean;
  /** With onlineDdl: DM's regular expressions (RE2) of the shadow (ghost) and trash tables of gh-ost/pt-osc; group 1 is the real table's name. */
  shadowTableRules: string[];
  trashTableRules: string[];
  cleanDumpFile: boolean;
  /** Lower-cased check item names; `all` disables every check. */
  ignoreCheckingItems: string[];
  target: TargetConfig;
  instances: InstanceConfig[];
  notices: ConfigNotice[];
}

export interface SourceConfig {
  sourceId: string;
  serverId?: number;
  flavor?: 'mysql' | 'mariadb';
  enableGtid: boolean;
  enableRelay: boolean;
  from: DbEndpoint;
  notices: ConfigNotice[];
  /** Source-level binlog event filters (source.yaml `filters`), added to every task's rules. */
  filters?: EventFilterRule[];
  /** source.yaml `case-sensitive`: with the task's, whether those filters match names case-sensitively. */
  caseSensitive?: boolean;
}

export const DEFAULT_CHUNK_ROWS = 100_000;
