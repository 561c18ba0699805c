import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { encryptPassword } from '../shared/config/password.js';
import { loadYaml } from '../shared/config/yaml.js';
import { DmqError, toErrorRecord } from '../shared/errors.js';
import { SETTINGS_HELP } from '../shared/settings.js';
import { readSecretLine } from './stdin.js';
import { apiClient, type ApiClient, type ApiResponse } from './api-client.js';
import { inlineTlsFiles } from './tls-files.js';
import { renderWatch, settledStage, type WatchedStatus } from './watch.js';
import { registerValidation } from './validation.js';
import { registerBinlogSchema } from './binlog-schema.js';
import { runDiff } from './diff.js';

/** dmctl prints indented JSON with `result` and `msg`; so do we, and exit non-zero on failure. */
function print(output: { result: boolean } & Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(output, null, 4)}\n`);
  if (!output.result) process.exitCode = 1;
}

function failure(err: unknown) {
  const record = toErrorRecord(err);
  const msg = [record.message, record.workaround ? `workaround: ${record.workaround}` : ''].filter(Boolean).join('\n');
  return { result: false, msg, code: record.code };
}

function fromResponse(res: ApiResponse): { result: boolean; msg: string } & Record<string, unknown> {
  const body = (res.body ?? {}) as Record<string, unknown>;
  if (res.status >= 400) {
    const msg = [body.message ?? body.error_msg ?? res.body, body.workaround ? `workaround: ${String(body.workaround)}` : '']
      .filter(Boolean)
      .join('\n');
    return { result: false, msg: String(msg), code: body.code };
  }
  return { result: true, msg: '', ...body };
}

async function readConfigFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new DmqError(
      'CONFIG_INVALID',
      `cannot read ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      {
        cause: err,
        where: path,
        workaround: `pass the path of an existing ${what} YAML file`,
      },
    );
  }
}

/** A source.yaml or task.yaml as the JSON body the API takes, with the TLS files it names read here. */
async function readConfig(path: string, kind: 'source' | 'task'): Promise<unknown> {
  return inlineTlsFiles(loadYaml(await readConfigFile(path, kind), path), kind, path);
}

/** The task name from a task.yaml path or a bare name, as dmctl accepts both. */
async function taskNameOf(arg: string): Promise<string> {
  if (!/\.ya?ml$/i.test(arg)) return arg;
  const text = await readConfigFile(arg, 'task');
  const match = /^name:\s*["']?([^"'\s#]+)/m.exec(text);
  if (!match?.[1]) throw new DmqError('CONFIG_INVALID', `${arg}: no top-level "name" field`, { where: `${arg}: name` });
  return match[1];
}

const program = new Command();
program
  .name('dmq')
  .description('Migrate MySQL, Aurora MySQL and MariaDB into TiDB (DM-compatible task.yaml, dmctl verbs)')
  .addOption(new Option('--master-addr <host:port>', 'address of dmq serve').env('DMQ_MASTER_ADDR').default('127.0.0.1:8261'))
  .addOption(
    new Option(
      '--token <token>',
      "the server's DMQ_TOKEN (DMQ_READ_TOKEN does for commands that only read); `--token -` reads it from standard input. A value given here shows in the process list to every user of this machine: prefer the DMQ_TOKEN variable or -",
    ).env('DMQ_TOKEN'),
  )
  .showHelpAfterError()
  .hook('preAction', async () => {
    if (program.opts<{ token?: string }>().token === '-') program.setOptionValue('token', await readSecretLine('token', '--token -'));
  });

const client = () => {
  const { masterAddr, token } = program.opts<{ masterAddr: string; token?: string }>();
  return apiClient(masterAddr, token);
};

function action<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      print(failure(err));
    }
  };
}

program
  .command('serve')
  .description('run the API, dashboard and processors')
  .addOption(new Option('--role <role>', 'what this process runs').choices(['all', 'api', 'worker']).default('all'))
  .addHelpText(
    'after',
    '\nExample:\n  DMQ_TOKEN=$(openssl rand -hex 16) REDIS_URL=redis://127.0.0.1:6379 dmq serve --role all\n\nEnvironment:\n' +
      SETTINGS_HELP.map(([k, v]) => `  ${k.padEnd(23)} ${v}`).join('\n'),
  )
  .action(async (opts: { role: 'all' | 'api' | 'worker' }) => {
    const { serve } = await import('../serve.js');
    try {
      const server = await serve(opts.role);
      const stop = () => {
        void server.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    } catch (err) {
      const record = toErrorRecord(err);
      process.stderr.write(`dmq serve: ${record.message}\n${record.workaround ? `workaround: ${record.workaround}\n` : ''}`);
      process.exit(1);
    }
  });

program
  .command('operate-source')
  .description(
    'create, update, stop (remove) or show upstream sources; update changes the address or account under running tasks (a new address needs enable-gtid)',
  )
  .argument('<op>', 'create | update | stop | show')
  .argument('[files...]', 'source.yaml files (create, update, stop) or source ids (stop, show)')
  .addHelpText(
    'after',
    '\nExamples:\n  dmq operate-source create source-01.yaml source-02.yaml\n  dmq operate-source update source-01.yaml',
  )
  .action(
    action(async (op: string, files: string[]) => {
      const api = client();
      if (op === 'show') {
        const res = await api.request('GET', '/api/v1/sources');
        const out = fromResponse(res);
        const data = ((res.body as { data?: { sourceId: string }[] })?.data ?? []).filter(
          (s) => files.length === 0 || files.includes(s.sourceId),
        );
        print(
          out.result
            ? {
                result: true,
                msg: '',
                sources: data.map((s) => ({ result: true, msg: '', source: s.sourceId, worker: hostname(), config: s })),
              }
            : out,
        );
        return;
      }
      if (op !== 'create' && op !== 'update' && op !== 'stop')
        throw new DmqError('CONFIG_INVALID', `unknown operate-source operation "${op}"`, {
          workaround: 'use create, update, stop or show',
        });
      if (files.length === 0)
        throw new DmqError('CONFIG_INVALID', `operate-source ${op} needs at least one source.yaml`, {
          workaround: `dmq operate-source ${op} source.yaml`,
        });
      const sources = [];
      for (const file of files) {
        if (op === 'create') {
          const res = await api.request('POST', '/api/v1/sources', { json: await readConfig(file, 'source') });
          const out = fromResponse(res);
          sources.push({ ...out, source: (res.body as { sourceId?: string })?.sourceId ?? file, worker: hostname() });
        } else if (op === 'update') {
          const config = await readConfig(file, 'source');
          const id = String((config as Record<string, unknown>)['source-id'] ?? (config as Record<string, unknown>).source_name ?? '');
          if (id === '') throw new DmqError('CONFIG_INVALID', `${file}: no source-id`, { where: `${file}: source-id` });
          const res = await api.request('PUT', `/api/v1/sources/${encodeURIComponent(id)}`, { json: config });
          sources.push({ ...fromResponse(res), source: id, worker: hostname() });
        } else {
          const id = /\.ya?ml$/i.test(file)
            ? (/^source-id:\s*["']?([^"'\s#]+)/m.exec(await readConfigFile(file, 'source'))?.[1] ?? file)
            : file;
          const res = await api.request('DELETE', `/api/v1/sources/${encodeURIComponent(id)}`);
          sources.push({ ...fromResponse(res), source: id, worker: hostname() });
        }
      }
      print({ result: sources.every((s) => s.result), msg: '', sources });
    }),
  );

program
  .command('start-task')
  .description('submit a DM task.yaml: precheck, then dump, load (and sync)')
  .argument('<file>', 'task.yaml')
  .option('--remove-meta', 'forget previous checkpoints of a task of the same name and start from scratch')
  .option(
    '--start-time <time>',
    "incremental task: replicate from the first transaction each source wrote at or after this time, e.g. '2026-12-07 10:00:00' (the source's time zone), '2026-12-07T10:00:00' or '2026-12-07T10:00:00+08:00'",
  )
  .addHelpText(
    'after',
    '\nExamples:\n  dmq --master-addr 127.0.0.1:8261 start-task task.yaml\n  dmq start-task task-incremental.yaml --start-time "2026-12-07 10:00:00"',
  )
  .action(
    action(async (file: string, opts: { removeMeta?: boolean; startTime?: string }) => {
      const query = new URLSearchParams();
      if (opts.removeMeta) query.set('remove_meta', 'true');
      if (opts.startTime !== undefined) query.set('start_time', opts.startTime);
      const res = await client().request('POST', `/api/v1/tasks${query.size > 0 ? `?${query}` : ''}`, {
        json: await readConfig(file, 'task'),
      });
      const out = fromResponse(res);
      if (!out.result) return print(out);
      type Submitted = { name: string; instances: { sourceId: string; startPosition?: { binlogName?: string; binlogPos?: number } }[] };
      const task = (res.body as { task: Submitted }).task;
      const startsAt = (i: Submitted['instances'][number]) =>
        opts.startTime !== undefined && i.startPosition?.binlogName
          ? `starts at ${i.startPosition.binlogName}:${i.startPosition.binlogPos}, the first transaction at or after ${opts.startTime}`
          : '';
      print({
        result: true,
        msg: `task "${task.name}" submitted; its precheck runs now — follow it with: dmq query-status ${task.name}`,
        sources: task.instances.map((i) => ({ result: true, msg: startsAt(i), source: i.sourceId, worker: hostname() })),
        checkResult: '',
      });
    }),
  );

program
  .command('check-task')
  .description('run the precheck of a task.yaml without starting it')
  .argument('<file>', 'task.yaml')
  .addHelpText('after', '\nExample:\n  dmq check-task task.yaml')
  .action(
    action(async (file: string) => {
      const res = await client().request('POST', '/api/v1/tasks/check', { json: await readConfig(file, 'task') });
      const out = fromResponse(res);
      if (!out.result) return print(out);
      const check = res.body as { passed: boolean; results: unknown[] };
      print({ result: check.passed, msg: check.passed ? 'pre-check is passed. ' : 'pre-check failed', checkResult: check.results });
    }),
  );

/** `query-status --watch`: redraw in a terminal, JSON lines in a pipe, until the task settles. */
async function watchTask(api: ApiClient, name: string, seconds: number): Promise<void> {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new DmqError('CONFIG_INVALID', `--watch ${seconds}: the refresh interval must be a positive number of seconds`, {
      where: '--watch',
      workaround: 'for example --watch 2',
    });
  }
  const tty = process.stdout.isTTY === true;
  for (;;) {
    const res = await api.request('GET', `/api/v1/tasks/${encodeURIComponent(name)}/status`);
    const out = fromResponse(res);
    if (!out.result) return print(out);
    const status = res.body as WatchedStatus;
    if (tty) process.stdout.write(`\x1b[H\x1b[2J${renderWatch(name, status, process.stdout.columns ?? 100).join('\n')}\n`);
    else process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...status })}\n`);
    if (settledStage(status.stage)) return;
    await new Promise((r) => setTimeout(r, seconds * 1000));
  }
}

program
  .command('query-status')
  .description('status of one task, or a list of every task')
  .argument('[task]', 'task name or task.yaml')
  .option(
    '-w, --watch [seconds]',
    'follow the task: progress bars and lag redrawn every N seconds (default 2) in a terminal, one JSON line per refresh otherwise; ends when the task finishes or pauses',
  )
  .option('--more', "also every precheck item, and every table's replication checkpoint")
  .addHelpText(
    'after',
    '\nExamples:\n  dmq query-status\n  dmq query-status test\n  dmq query-status --more test\n  dmq query-status --watch test',
  )
  .action(
    action(async (task: string | undefined, options: { watch?: string | boolean; more?: boolean }) => {
      const api = client();
      if (options.watch !== undefined) {
        if (!task)
          throw new DmqError('CONFIG_INVALID', 'query-status --watch follows one task', {
            where: '--watch',
            workaround: 'name the task: dmq query-status --watch <task>',
          });
        await watchTask(api, await taskNameOf(task), options.watch === true ? 2 : Number(options.watch));
        return;
      }
      if (!task) {
        const res = await api.request('GET', '/api/v1/tasks');
        const out = fromResponse(res);
        print(
          out.result
            ? { result: true, msg: '', redis: (res.body as { redis: unknown }).redis, tasks: (res.body as { data: unknown[] }).data }
            : out,
        );
        return;
      }
      const name = await taskNameOf(task);
      print(fromResponse(await api.request('GET', `/api/v1/tasks/${encodeURIComponent(name)}/status${options.more ? '?more=true' : ''}`)));
    }),
  );

for (const [verb, path, description] of [
  ['pause-task', 'pause', 'pause a task; running chunks finish, no new ones start'],
  ['resume-task', 'resume', 'resume a paused task from its checkpoints'],
] as const) {
  program
    .command(verb)
    .description(description)
    .argument('<task>', 'task name or task.yaml')
    .addHelpText('after', `\nExample:\n  dmq ${verb} test`)
    .action(
      action(async (task: string) => {
        const name = await taskNameOf(task);
        print(fromResponse(await client().request('POST', `/api/v1/tasks/${encodeURIComponent(name)}/${path}`)));
      }),
    );
}

program
  .command('stop-task')
  .description('stop and remove a task (its checkpoints stay unless --remove-meta)')
  .argument('<task>', 'task name or task.yaml')
  .option('--remove-meta', 'also drop its checkpoints on the target and its dump files')
  .addHelpText('after', '\nExample:\n  dmq stop-task test')
  .action(
    action(async (task: string, opts: { removeMeta?: boolean }) => {
      const name = await taskNameOf(task);
      const q = opts.removeMeta ? '?remove_meta=true' : '';
      print(fromResponse(await client().request('DELETE', `/api/v1/tasks/${encodeURIComponent(name)}${q}`)));
    }),
  );

program
  .command('diff')
  .description(
    'compare every replicated table of a task, source(s) against target, while replication runs; write fix SQL for what differs (exit code 1 when anything differs or could not be compared)',
  )
  .argument('<task>', 'task name or task.yaml')
  .option('--fix-sql <file>', 'where to write the statements that make the target equal', '<task>-diff-fix.sql')
  .option('--follow', 'follow the run already going (or show the last one) instead of starting one')
  .addHelpText(
    'after',
    '\nExamples:\n  dmq diff test\n  dmq diff test --fix-sql /tmp/test-fix.sql\n  dmq diff test | jq .   # JSON lines when piped',
  )
  .action(
    action(async (task: string, opts: { fixSql: string; follow?: boolean }) => {
      const name = await taskNameOf(task);
      const out = await runDiff(client(), name, {
        follow: opts.follow === true,
        fixFile: opts.fixSql.replace('<task>', name),
        tty: process.stdout.isTTY === true,
        columns: process.stdout.columns ?? 100,
      });
      if (out) print(fromResponse(out));
    }),
  );

const binlog = program
  .command('binlog')
  .description(
    'manage binlog operations: resolve the event the task paused on (APPLY_REJECTED: a batch of rows the target rejected; DDL_REJECTED: a DDL the target rejected; DDL_UNSUPPORTED: a DDL dmq cannot read; EVENT_FILTERED: a filter rule with action Error), inject statements, list and revert operations not applied yet',
  );
/** How each verb that changes a binlog operation reads: whether -b is required, what its statements are for. */
const BINLOG_VERBS = {
  skip: {
    description: 'write nothing for the batch at this position and resume',
    requiredPos: true,
    sqls: undefined,
    example: 'dmq binlog skip test -b mysql-bin.000003:1234 -s mysql-replica-01',
  },
  replace: {
    description: 'write these statements instead of the batch at this position and resume',
    requiredPos: true,
    sqls: 'statements to run instead, in order',
    example: 'dmq binlog replace test -b mysql-bin.000003:1234 "INSERT INTO db.t VALUES (2, 50)"',
  },
  inject: {
    description:
      'run these statements before the event at a position, then the event: at the position the task paused on (and resume), or before a statement ahead (DDL, read as if the source ran it)',
    requiredPos: false,
    sqls: 'statements to run before the event, in order',
    example:
      'dmq binlog inject test "DELETE FROM db.t WHERE id = 2"\n  dmq binlog inject test -b mysql-bin.000004:5678 -s mysql-replica-01 "ALTER TABLE db.t ADD INDEX iv (v)"',
  },
  revert: {
    description: 'remove a skip, replace or inject not applied yet',
    requiredPos: false,
    sqls: undefined,
    example: 'dmq binlog revert test -b mysql-bin.000004:5678',
  },
} as const;

for (const [op, verb] of Object.entries(BINLOG_VERBS) as [keyof typeof BINLOG_VERBS, (typeof BINLOG_VERBS)[keyof typeof BINLOG_VERBS]][]) {
  const position = "the position the task's error names, as file:pos";
  const command = binlog.command(op).description(verb.description).argument('<task>', 'task name or task.yaml');
  if (verb.requiredPos) command.requiredOption('-b, --binlog-pos <file:pos>', position);
  else command.option('-b, --binlog-pos <file:pos>', `${position}; else the one the task is paused on`);
  command.option('-s, --source <source-id>', 'the source of that position (when the task has several)');
  if (verb.sqls) command.argument('<sql...>', verb.sqls);
  command.addHelpText('after', `\nExample:\n  ${verb.example}`).action(
    action(async (task: string, ...rest: unknown[]) => {
      const sqls = verb.sqls ? (rest[0] as string[]) : undefined;
      const opts = (verb.sqls ? rest[1] : rest[0]) as { binlogPos?: string; source?: string };
      const name = await taskNameOf(task);
      const body = {
        op,
        ...(opts.binlogPos ? { binlog_pos: opts.binlogPos } : {}),
        ...(opts.source ? { source: opts.source } : {}),
        ...(sqls ? { sqls } : {}),
      };
      const res = await client().request('POST', `/api/v1/tasks/${encodeURIComponent(name)}/binlog`, { json: body });
      const out = fromResponse(res);
      const sources = (res.body as { sources?: { source: string; binlogPos: string }[] }).sources;
      // dmctl answers per source: {result, msg, source, worker}.
      print(
        out.result && sources
          ? {
              result: true,
              msg: '',
              sources: sources.map((s) => ({ result: true, msg: '', source: s.source, worker: hostname(), binlogPos: s.binlogPos })),
            }
          : out,
      );
    }),
  );
}

/** dmctl's numbers for the operations, as `binlog list` shows them. */
const DM_ERROR_OP = { skip: 1, replace: 2, inject: 4 } as const;

binlog
  .command('list')
  .description('the skip, replace and inject operations not applied yet, per source in binlog order (at or after -b)')
  .argument('<task>', 'task name or task.yaml')
  .option('-b, --binlog-pos <file:pos>', 'only those at or after this position')
  .option('-s, --source <source-id>', 'only those of this source')
  .addHelpText('after', '\nExample:\n  dmq binlog list test')
  .action(
    action(async (task: string, opts: { binlogPos?: string; source?: string }) => {
      const name = await taskNameOf(task);
      const query = new URLSearchParams();
      if (opts.binlogPos) query.set('binlog_pos', opts.binlogPos);
      if (opts.source) query.set('source', opts.source);
      const res = await client().request('GET', `/api/v1/tasks/${encodeURIComponent(name)}/binlog${query.size > 0 ? `?${query}` : ''}`);
      const out = fromResponse(res);
      if (!out.result) return print(out);
      type Listed = { source: string; binlogPos: string; op: keyof typeof DM_ERROR_OP; sqls?: string[]; stage: string };
      const { sources, operations } = res.body as { sources: string[]; operations: Listed[] };
      print({
        result: true,
        msg: '',
        sources: sources.map((source) => {
          const mine = operations.filter((o) => o.source === source);
          // dmctl's msg is the JSON of the operations; `operations` says the same for people.
          const dm = mine.map((o) => ({ op: DM_ERROR_OP[o.op], task: name, binlogPos: o.binlogPos, ...(o.sqls ? { sqls: o.sqls } : {}) }));
          return { result: true, msg: JSON.stringify(dm), source, worker: hostname(), operations: mine };
        }),
      });
    }),
  );

const shardDdlLock = program
  .command('shard-ddl-lock')
  .description('list the pessimistic shard DDL locks of a task that are waiting for shards')
  .argument('[task]', 'task name or task.yaml (default: every task)')
  .addHelpText('after', '\nExample:\n  dmq shard-ddl-lock test\n  dmq shard-ddl-lock unlock "test-`test_db`.`test_table`"')
  .action(
    action(async (task: string | undefined) => {
      const api = client();
      let names = task ? [await taskNameOf(task)] : undefined;
      if (!names) {
        const res = await api.request('GET', '/api/v1/tasks');
        if (res.status >= 400) return print(fromResponse(res));
        names = (res.body as { data: { name: string }[] }).data.map((t) => t.name);
      }
      const locks: object[] = [];
      for (const name of names) {
        const res = await api.request('GET', `/api/v1/tasks/${encodeURIComponent(name)}/shard-ddl-locks`);
        if (res.status >= 400) return print(fromResponse(res));
        locks.push(...(res.body as { locks: object[] }).locks.map((l) => ({ task: name, ...l })));
      }
      print({ result: true, msg: '', locks });
    }),
  );
shardDdlLock
  .command('unlock')
  .description('resolve a lock without waiting for the missing shards: its DDL runs on the target now, once')
  .argument('<lock-id>', 'the id shard-ddl-lock lists, e.g. test-`db`.`tbl`')
  .option('--force-remove', 'resolve it without running the DDL')
  .addHelpText('after', '\nExample:\n  dmq shard-ddl-lock unlock "test-`test_db`.`test_table`"')
  .action(
    action(async (lockId: string, opts: { forceRemove?: boolean }) => {
      // DM's lock ids start with the task name; task names cannot hold a backtick.
      const cut = lockId.indexOf('-`');
      if (cut <= 0)
        throw new DmqError('CONFIG_INVALID', `"${lockId}" is not a lock id`, {
          where: 'lock-id',
          workaround: 'copy the id from `dmq shard-ddl-lock`, e.g. test-`db`.`tbl`',
        });
      const name = lockId.slice(0, cut);
      print(
        fromResponse(
          await client().request('POST', `/api/v1/tasks/${encodeURIComponent(name)}/shard-ddl-locks/unlock`, {
            json: { lock_id: lockId, ...(opts.forceRemove ? { force_remove: true } : {}) },
          }),
        ),
      );
    }),
  );

registerValidation(program, { client, print, fromResponse, action, taskNameOf });
registerBinlogSchema(program, { client, print, fromResponse, action, taskNameOf });

program
  .command('encrypt')
  .description('encrypt a password the way dmctl encrypt does (DM and dmq both decrypt it)')
  .argument(
    '[plain]',
    'the password; without it (or with -) the first line of standard input, which keeps it out of the process list other users can read',
  )
  .addHelpText('after', '\nExamples:\n  dmq encrypt < password.txt\n  printf \'%s\\n\' "$PASSWORD" | dmq encrypt\n  dmq encrypt 123456')
  .action(
    action(async (plain: string | undefined) => {
      const password = plain === undefined || plain === '-' ? await readSecretLine('password', 'encrypt') : plain;
      process.stdout.write(`${encryptPassword(password)}\n`);
    }),
  );

// Actions print their own failures; this catches what fails before one runs (reading --token -).
await program.parseAsync(process.argv).catch((err: unknown) => print(failure(err)));
