import type { RowDataPacket } from 'mysql2/promise';
import type { Queryable } from '../sql/connect.js';
import { ER, serverErrno } from '../sql/server-errors.js';
import { quoteId } from '../sql/quote.js';

/**
 * The tables dmq keeps in the meta schema on the target (`dm_meta` unless the task says
 * otherwise). They are the truth about progress: a chunk is loaded iff its row says so, and
 * that row is written in the same transaction as the chunk's last rows.
 */
export interface MetaTables {
  schema: string;
  /** One row per source: watermarks and how the copy was made. */
  dumpMeta: string;
  /** One row per migrated table: split key, definition, target name. */
  tables: string;
  /** One row per chunk: its range, dump result and load offset. */
  chunks: string;
  /** One row per replicated table and one global row per source: applied binlog coordinates. */
  syncer: string;
  /** One row per lane of a table split into lanes: applied binlog coordinates (lane-checkpoint.ts). */
  lanes: string;
  /** One row per table whose DDL is running on the target, so a retry knows it may find it done. */
  ddl: string;
  /** One row per source: the epoch of its current binlog reader; appliers refuse jobs of older ones. */
  fence: string;
  /** Shard merge (pessimistic): one row per DDL lock of a merged target table. */
  shardLocks: string;
  /** Shard merge: which shard reached which lock, and where. */
  shardArrivals: string;
  /** Shard merge: shards whose table was dropped upstream, which later locks do not wait for. */
  shardLeft: string;
  /** The schema tracker: each migrated source table's definition, one row per position it changed at. */
  schemaTracker: string;
  /** Online schema changes: the ALTERs run on gh-ost/pt-osc shadow tables until their swap (online-ddl-store.ts). */
  onlineDdl: string;
  /** Continuous validation: one row per source, where its validator stands and what it counted. */
  validatorCheckpoint: string;
  /** Continuous validation: one row per changed row key, its latest image, written with the change. */
  validatorPending: string;
  /** Continuous validation: rows that did not match in time, with both sides and their state. */
  validatorErrors: string;
}

export function metaTables(metaSchema: string, task: string): MetaTables {
  return {
    schema: metaSchema,
    dumpMeta: `${task}_dump_meta`,
    tables: `${task}_dump_tables`,
    chunks: `${task}_loader_checkpoint`,
    syncer: `${task}_syncer_checkpoint`,
    lanes: `${task}_syncer_lane`,
    ddl: `${task}_syncer_ddl`,
    fence: `${task}_reader_fence`,
    shardLocks: `${task}_shard_lock`,
    shardArrivals: `${task}_shard_arrival`,
    shardLeft: `${task}_shard_left`,
    schemaTracker: `${task}_schema_tracker`,
    onlineDdl: `${task}_onlineddl`,
    validatorCheckpoint: `${task}_validator_checkpoint`,
    validatorPending: `${task}_validator_pending_change`,
    validatorErrors: `${task}_validator_error_change`,
  };
}

export function metaName(meta: MetaTables, table: keyof Omit<MetaTables, 'schema'>): string {
  return `${quoteId(meta.schema)}.${quoteId(meta[table])}`;
}

/** Names are compared byte-exact: two tables that differ only in case are two tables upstream. */
const NAME = 'VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL';
/**
 * Every meta table says its charset: the server's default may be latin1 (Aurora MySQL 2's),
 * which would store a CJK column name in column_list or create_sql as '?'.
 */
const TABLE_OPTIONS = 'DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/**
 * Which server the coordinates of a source's rows belong to (see server-switch.ts), on its
 * global row; beyond DM's columns.
 */
const SERVER_TYPE = 'VARCHAR(255) NULL';

export async function ensureMetaTables(conn: Queryable, meta: MetaTables): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteId(meta.schema)} CHARACTER SET utf8mb4`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'dumpMeta')} (
    source_id ${NAME},
    consistency VARCHAR(64) NOT NULL,
    low_binlog_name VARCHAR(255) NULL,
    low_binlog_pos BIGINT UNSIGNED NULL,
    low_binlog_gtid TEXT NULL,
    high_binlog_name VARCHAR(255) NULL,
    high_binlog_pos BIGINT UNSIGNED NULL,
    high_binlog_gtid TEXT NULL,
    table_count INT NOT NULL,
    chunk_count INT NOT NULL,
    planned_at DATETIME(3) NOT NULL,
    dumped_at DATETIME(3) NULL,
    PRIMARY KEY (source_id)
  ) ${TABLE_OPTIONS}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'tables')} (
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    target_schema ${NAME},
    target_table ${NAME},
    create_sql LONGTEXT NOT NULL,
    column_list LONGTEXT NOT NULL,
    split_key TEXT NOT NULL,
    split_kind VARCHAR(16) NOT NULL,
    estimated_rows BIGINT UNSIGNED NOT NULL,
    chunk_count INT NOT NULL,
    PRIMARY KEY (source_id, schema_name, table_name)
  ) ${TABLE_OPTIONS}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'chunks')} (
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    chunk_index INT NOT NULL,
    lower_bound LONGTEXT NULL,
    upper_bound LONGTEXT NULL,
    file_key TEXT NULL,
    file_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
    dumped_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
    dumped_at DATETIME(3) NULL,
    load_offset BIGINT UNSIGNED NOT NULL DEFAULT 0,
    loaded_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
    loaded_at DATETIME(3) NULL,
    resume_key LONGTEXT NULL,
    PRIMARY KEY (source_id, schema_name, table_name, chunk_index)
  ) ${TABLE_OPTIONS}`);
  // A chunk table made by a release before the direct copy gains its column here.
  await addColumnIfMissing(conn, meta, 'chunks', 'resume_key', 'LONGTEXT NULL');
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'syncer')} (
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    binlog_name VARCHAR(255) NOT NULL,
    binlog_pos BIGINT UNSIGNED NOT NULL,
    binlog_part INT UNSIGNED NOT NULL DEFAULT 0,
    binlog_gtid TEXT NULL,
    is_global TINYINT(1) NOT NULL DEFAULT 0,
    updated_at DATETIME(3) NOT NULL,
    binlog_server ${SERVER_TYPE},
    PRIMARY KEY (source_id, schema_name, table_name)
  ) ${TABLE_OPTIONS}`);
  await addColumnIfMissing(conn, meta, 'syncer', 'binlog_server', SERVER_TYPE);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'lanes')} (
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    lane_count INT UNSIGNED NOT NULL,
    lane INT UNSIGNED NOT NULL,
    binlog_name VARCHAR(255) NOT NULL,
    binlog_pos BIGINT UNSIGNED NOT NULL,
    binlog_part INT UNSIGNED NOT NULL DEFAULT 0,
    binlog_gtid TEXT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (source_id, schema_name, table_name, lane_count, lane)
  ) ${TABLE_OPTIONS}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'ddl')} (
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    binlog_coord VARCHAR(300) NOT NULL,
    started_at DATETIME(3) NOT NULL,
    PRIMARY KEY (source_id, schema_name, table_name)
  ) ${TABLE_OPTIONS}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'fence')} (
    source_id ${NAME},
    epoch BIGINT UNSIGNED NOT NULL,
    owner VARCHAR(255) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (source_id)
  ) ${TABLE_OPTIONS}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'shardLocks')} (
    target_schema ${NAME},
    target_table ${NAME},
    seq INT UNSIGNED NOT NULL,
    ddl LONGTEXT NOT NULL,
    state VARCHAR(16) NOT NULL,
    owner VARCHAR(800) NULL,
    created_at DATETIME(3) NOT NULL,
    resolved_at DATETIME(3) NULL,
    PRIMARY KEY (target_schema, target_table, seq)
  ) ${TABLE_OPTIONS}`);
  // Keyed by a digest of (target, shard): five names are too long for one index.
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'shardArrivals')} (
    member_key CHAR(40) CHARACTER SET ascii NOT NULL,
    target_schema ${NAME},
    target_table ${NAME},
    seq INT UNSIGNED NOT NULL,
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    binlog_coord VARCHAR(300) NOT NULL,
    arrived_at DATETIME(3) NOT NULL,
    PRIMARY KEY (member_key, seq)
  ) ${TABLE_OPTIONS}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'shardLeft')} (
    member_key CHAR(40) CHARACTER SET ascii NOT NULL,
    target_schema ${NAME},
    target_table ${NAME},
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    binlog_coord VARCHAR(300) NOT NULL,
    left_at DATETIME(3) NOT NULL,
    PRIMARY KEY (member_key)
  ) ${TABLE_OPTIONS}`);
  // definition NULL: the table was dropped there. Coordinates are text (file:pos#part), compared in
  // dmq; rows are found by a digest of (source, table, position), too long together for one index.
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'schemaTracker')} (
    version_key CHAR(40) CHARACTER SET ascii NOT NULL,
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    valid_from VARCHAR(300) NOT NULL,
    definition LONGTEXT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (version_key),
    KEY of_source (source_id)
  ) ${TABLE_OPTIONS}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'onlineDdl')} (
    source_id ${NAME},
    binlog_coord VARCHAR(300) CHARACTER SET ascii NOT NULL,
    shadow_schema ${NAME},
    shadow_table ${NAME},
    kind VARCHAR(8) NOT NULL,
    ddl LONGTEXT NULL,
    recorded_at DATETIME(3) NOT NULL,
    PRIMARY KEY (source_id, binlog_coord)
  ) ${TABLE_OPTIONS}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'validatorCheckpoint')} (
    source_id ${NAME},
    binlog_coord VARCHAR(300) NULL,
    procd_ins BIGINT UNSIGNED NOT NULL DEFAULT 0,
    procd_upd BIGINT UNSIGNED NOT NULL DEFAULT 0,
    procd_del BIGINT UNSIGNED NOT NULL DEFAULT 0,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (source_id)
  ) ${TABLE_OPTIONS}`);
  // A row key can be longer than an index allows: rows are found by a digest of table and key.
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'validatorPending')} (
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    key_hash CHAR(40) CHARACTER SET ascii NOT NULL,
    row_key LONGTEXT NOT NULL,
    target_schema ${NAME},
    target_table ${NAME},
    column_list LONGTEXT NOT NULL,
    op VARCHAR(8) NOT NULL,
    row_image LONGTEXT NOT NULL,
    binlog_coord VARCHAR(300) NOT NULL,
    event_time BIGINT NOT NULL,
    applied_at DATETIME(3) NOT NULL,
    PRIMARY KEY (source_id, key_hash)
  ) ${TABLE_OPTIONS}`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${metaName(meta, 'validatorErrors')} (
    id BIGINT NOT NULL AUTO_INCREMENT,
    source_id ${NAME},
    schema_name ${NAME},
    table_name ${NAME},
    key_hash CHAR(40) CHARACTER SET ascii NOT NULL,
    row_key LONGTEXT NOT NULL,
    target_schema ${NAME},
    target_table ${NAME},
    src_data LONGTEXT NOT NULL,
    dst_data LONGTEXT NULL,
    error_type VARCHAR(32) NOT NULL,
    differ TEXT NULL,
    status VARCHAR(16) NOT NULL,
    binlog_coord VARCHAR(300) NOT NULL,
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY row_of_source (source_id, key_hash)
  ) ${TABLE_OPTIONS}`);
}

/** Meta tables made by an earlier release get the columns added since. */
async function addColumnIfMissing(
  conn: Queryable,
  meta: MetaTables,
  table: keyof Omit<MetaTables, 'schema'>,
  column: string,
  definition: string,
): Promise<void> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?',
    [meta.schema, meta[table], column],
  );
  if (Number(rows[0]?.n) > 0) return;
  try {
    await conn.query(`ALTER TABLE ${metaName(meta, table)} ADD COLUMN ${quoteId(column)} ${definition}`);
  } catch (err) {
    // Another processor added it first.
    if (serverErrno(err) !== ER.DUP_FIELDNAME) throw err;
  }
}

export async function dropMetaTables(conn: Queryable, meta: MetaTables): Promise<void> {
  for (const table of [
    'dumpMeta',
    'tables',
    'chunks',
    'syncer',
    'lanes',
    'ddl',
    'fence',
    'shardLocks',
    'shardArrivals',
    'shardLeft',
    'schemaTracker',
    'onlineDdl',
    'validatorCheckpoint',
    'validatorPending',
    'validatorErrors',
  ] as const) {
    await conn.query(`DROP TABLE IF EXISTS ${metaName(meta, table)}`);
  }
}
