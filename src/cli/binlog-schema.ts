import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DmqError } from '../shared/errors.js';
import type { CliTools } from './validation.js';

/** The source, schema and table of a verb: DM's `-s source schema table`, or `source schema table`. */
function tableArgs(verb: string, args: string[], source: string | undefined, needed: number) {
  const [sourceId, ...rest] = source === undefined ? args : [source, ...args];
  if (sourceId === undefined || rest.length < needed) {
    throw new DmqError('CONFIG_INVALID', `binlog-schema ${verb} needs the source${needed > 0 ? ', the schema and the table' : ''}`, {
      where: 'source',
      workaround: `dmq binlog-schema ${verb} <task> -s <source-id> <schema> <table> (or <task> <source-id> <schema> <table>)`,
    });
  }
  return { sourceId, schema: rest[0], table: rest[1], rest: rest.slice(2) };
}

const schemasPath = (task: string, source: string) =>
  `/api/v1/tasks/${encodeURIComponent(task)}/sources/${encodeURIComponent(source)}/schemas`;

/** dmctl's `binlog-schema` verbs over DM's /schemas routes: what a source's schema tracker holds. */
export function registerBinlogSchema(program: Command, tools: CliTools): void {
  const binlogSchema = program
    .command('binlog-schema')
    .description(
      "the table definitions dmq decodes a source's rows with when its binlog carries no column names (binlog_row_metadata=MINIMAL): list, update, delete",
    );

  binlogSchema
    .command('list')
    .description("a table's tracked definition as CREATE TABLE; without a table, the tracked tables (or schemas)")
    .argument('<task>', 'task name or task.yaml')
    .argument('[args...]', '[source-id] [schema] [table]')
    .option('-s, --source <source-id>', 'the source')
    .addHelpText('after', '\nExample:\n  dmq binlog-schema list test -s mysql-replica-01 test_db test_table')
    .action(
      tools.action(async (task: string, args: string[], opts: { source?: string }) => {
        const name = await tools.taskNameOf(task);
        const { sourceId, schema, table } = tableArgs('list', args, opts.source, 0);
        const path = [schemasPath(name, sourceId), schema, table]
          .filter((p) => p !== undefined)
          .map((p, i) => (i === 0 ? p : encodeURIComponent(p!)))
          .join('/');
        const res = await tools.client().request('GET', path);
        const out = tools.fromResponse(res);
        if (!out.result) return tools.print(out);
        tools.print(
          Array.isArray(res.body) ? { result: true, msg: '', names: res.body } : { result: true, msg: '', ...(res.body as object) },
        );
      }),
    );

  binlogSchema
    .command('update')
    .description(
      'set the definition rows of a table are decoded with, from where the paused task resumes: a file with its CREATE TABLE, or --from-source',
    )
    .argument('<task>', 'task name or task.yaml')
    .argument('<args...>', '[source-id] <schema> <table> [schema-file]')
    .option('-s, --source <source-id>', 'the source')
    .option('--from-source', "take the table's definition on the source now")
    .option('--flush', "accepted for DM's sake: the definition is always recorded with the checkpoints")
    .option('--sync', "accepted for DM's sake")
    .addHelpText(
      'after',
      '\nExamples:\n  dmq binlog-schema update test -s mysql-replica-01 test_db test_table test_table.sql\n  dmq binlog-schema update test -s mysql-replica-01 test_db test_table --from-source',
    )
    .action(
      tools.action(async (task: string, args: string[], opts: { source?: string; fromSource?: boolean }) => {
        const name = await tools.taskNameOf(task);
        const { sourceId, schema, table, rest } = tableArgs('update', args, opts.source, 2);
        const file = rest[0];
        let sql: string | undefined;
        if (file !== undefined) {
          sql = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
            throw new DmqError('CONFIG_INVALID', `cannot read schema file ${file}: ${err.code ?? err.message}`, {
              where: file,
              workaround: 'pass a file holding one CREATE TABLE statement',
            });
          });
        }
        const json = { ...(sql !== undefined ? { sql_content: sql } : {}), ...(opts.fromSource ? { from_source: true } : {}) };
        const path = `${schemasPath(name, sourceId)}/${encodeURIComponent(schema!)}/${encodeURIComponent(table!)}`;
        tools.print(tools.fromResponse(await tools.client().request('PUT', path, { json })));
      }),
    );

  binlogSchema
    .command('delete')
    .description('untrack a table from where the paused task resumes (until binlog-schema update sets it again)')
    .argument('<task>', 'task name or task.yaml')
    .argument('<args...>', '[source-id] <schema> <table>')
    .option('-s, --source <source-id>', 'the source')
    .addHelpText('after', '\nExample:\n  dmq binlog-schema delete test -s mysql-replica-01 test_db test_table')
    .action(
      tools.action(async (task: string, args: string[], opts: { source?: string }) => {
        const name = await tools.taskNameOf(task);
        const { sourceId, schema, table } = tableArgs('delete', args, opts.source, 2);
        const path = `${schemasPath(name, sourceId)}/${encodeURIComponent(schema!)}/${encodeURIComponent(table!)}`;
        tools.print(tools.fromResponse(await tools.client().request('DELETE', path)));
      }),
    );
}
