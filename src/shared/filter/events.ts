/**
 * The event names DM's binlog event filter accepts in `filters.<name>.events`, lower-case with
 * single spaces (how task parsing normalizes them).
 */
export const BINLOG_EVENT_TYPES: ReadonlySet<string> = new Set([
  // groups
  'all',
  'all dml',
  'all ddl',
  'none',
  'none dml',
  'none ddl',
  'incompatible ddl changes',
  // DML
  'insert',
  'update',
  'delete',
  // DDL
  'create database',
  'drop database',
  'alter database',
  'create table',
  'drop table',
  'truncate table',
  'rename table',
  'alter table',
  'create index',
  'drop index',
  'create view',
  'drop view',
  'add table partition',
  'drop table partition',
  'truncate table partition',
  // kinds of ALTER that DM can tell apart (its "incompatible ddl changes")
  'value range decrease',
  'precision decrease',
  'modify column',
  'rename column',
  'rename index',
  'drop column',
  'drop primary key',
  'drop unique key',
  'modify default value',
  'modify constraint',
  'modify columns order',
  'modify charset',
  'modify collation',
  'remove auto increment',
  'modify storage engine',
  'reorganize table partition',
  'rebuild table partition',
  'coalesce table partition',
  'split table partition',
  'exchange table partition',
  // newer DM (TiDB-only DDL and finer ALTER kinds); accepted so DM task files load
  'modify schema charset and collate',
  'modify table charset and collate',
  'modify table comment',
  'recover table',
  'alter table partitioning',
  'remove table partitioning',
  'add column',
  'set default value',
  'rebase auto id',
  'add primary key',
  'alter index visibility',
  'alter ttl info',
  'alter ttl remove',
  'multi schema change',
]);

/** DM's other names for events, and the event dmq filters them as. */
export const BINLOG_EVENT_ALIASES: ReadonlyMap<string, string> = new Map([
  ['create schema', 'create database'],
  ['drop schema', 'drop database'],
  ['alter schema', 'alter database'],
]);
