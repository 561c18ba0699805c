import { type Command, Option } from 'commander';
import { DmqError } from '../shared/errors.js';
import type { ApiClient, ApiResponse } from './api-client.js';

/** What the verbs share with the rest of the CLI (main.ts). */
export interface CliTools {
  client(): ApiClient;
  print(output: { result: boolean } & Record<string, unknown>): void;
  fromResponse(res: ApiResponse): { result: boolean; msg: string } & Record<string, unknown>;
  action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
  taskNameOf(arg: string): Promise<string>;
}

const taskPath = (name: string, rest: string) => `/api/v1/tasks/${encodeURIComponent(name)}/validation/${rest}`;

/** `[task]` or `--all-task`, exactly one: the task names a start or stop applies to. */
async function startStopTasks(tools: CliTools, task: string | undefined, allTask: boolean | undefined, verb: string): Promise<string[]> {
  if (Boolean(task) === Boolean(allTask)) {
    throw new DmqError('CONFIG_INVALID', `validation ${verb} takes either a task name or --all-task`, {
      workaround: `dmq validation ${verb} <task>, or dmq validation ${verb} --all-task`,
    });
  }
  if (task) return [await tools.taskNameOf(task)];
  const res = await tools.client().request('GET', '/api/v1/tasks');
  const out = tools.fromResponse(res);
  if (!out.result) throw new DmqError('API_UNREACHABLE', out.msg);
  return (res.body as { data: { taskName: string }[] }).data.map((t) => t.taskName);
}

/** dmctl's `validation` verbs, over the task's /validation routes. */
export function registerValidation(program: Command, tools: CliTools): void {
  const validation = program
    .command('validation')
    .description("continuous validation (DM's validators): compare applied rows with the target");

  const sources = (cmd: Command) => cmd.option('-s, --source <source-id...>', 'only these sources of the task');

  for (const verb of ['start', 'stop'] as const) {
    const cmd = validation
      .command(verb)
      .description(
        verb === 'start'
          ? 'start (or resume) validating the rows the task changes'
          : 'stop comparing; changes applied meanwhile are compared after the next start',
      )
      .argument('[task]', 'task name or task.yaml')
      .option('--all-task', 'every task');
    sources(cmd);
    if (verb === 'start') {
      cmd
        .addOption(
          new Option('--mode <mode>', 'full: every column; fast: the row exists (default: as before, else the config, else full)').choices([
            'full',
            'fast',
          ]),
        )
        .option(
          '--start-time <time>',
          "validate only changes written from then on: '2021-10-21 00:01:00' (UTC) or '2021-10-21T00:01:00+08:00'",
        );
    }
    cmd.addHelpText('after', `\nExample:\n  dmq validation ${verb} test${verb === 'start' ? ' --mode full' : ''}`).action(
      tools.action(async (task: string | undefined, opts: { allTask?: boolean; source?: string[]; mode?: string; startTime?: string }) => {
        const names = await startStopTasks(tools, task, opts.allTask, verb);
        const body = {
          ...(opts.source ? { sources: opts.source } : {}),
          ...(opts.mode ? { mode: opts.mode } : {}),
          ...(opts.startTime ? { start_time: opts.startTime } : {}),
        };
        const results = [];
        for (const name of names)
          results.push({ task: name, ...tools.fromResponse(await tools.client().request('POST', taskPath(name, verb), { json: body })) });
        const failed = results.filter((r) => !r.result);
        tools.print({ result: failed.length === 0, msg: failed.map((r) => `${r.task}: ${r.msg}`).join('\n') });
      }),
    );
  }

  validation
    .command('status')
    .description("each validator's stage, the position validated to, rows processed, pending and in error")
    .argument('<task>', 'task name or task.yaml')
    .addOption(new Option('--table-stage <stage>', 'only tables in this stage').choices(['running', 'stopped']))
    .addHelpText('after', '\nExample:\n  dmq validation status test')
    .action(
      tools.action(async (task: string, opts: { tableStage?: string }) => {
        const q = opts.tableStage ? `?table_stage=${opts.tableStage}` : '';
        tools.print(tools.fromResponse(await tools.client().request('GET', taskPath(await tools.taskNameOf(task), `status${q}`))));
      }),
    );

  validation
    .command('show-error')
    .description('the rows the validator found different')
    .argument('<task>', 'task name or task.yaml')
    .addOption(new Option('--error <state>', 'which errors').choices(['all', 'ignored', 'unprocessed']).default('unprocessed'))
    .addHelpText('after', '\nExample:\n  dmq validation show-error --error all test')
    .action(
      tools.action(async (task: string, opts: { error: string }) => {
        tools.print(
          tools.fromResponse(await tools.client().request('GET', taskPath(await tools.taskNameOf(task), `errors?error=${opts.error}`))),
        );
      }),
    );

  for (const [verb, op, alias, description] of [
    ['ignore-error', 'ignore', undefined, 'mark an error (or all) as ignored: show-error lists it only with --error ignored or all'],
    ['resolve-error', 'resolve', 'make-resolve', 'mark an error (or all) as resolved'],
    ['clear-error', 'clear', 'clear', 'delete an error (or all)'],
  ] as const) {
    const cmd = validation
      .command(verb)
      .description(description)
      .argument('<task>', 'task name or task.yaml')
      .argument('[error-id]', 'the id show-error prints')
      .option('--all', 'every error of the task')
      .addHelpText('after', `\nExample:\n  dmq validation ${verb} test 1\n  dmq validation ${verb} test --all`);
    if (alias) cmd.alias(alias);
    cmd.action(
      tools.action(async (task: string, id: string | undefined, opts: { all?: boolean }) => {
        if (Boolean(id) === Boolean(opts.all) || (id !== undefined && !/^[1-9]\d*$/.test(id))) {
          throw new DmqError('CONFIG_INVALID', `validation ${verb} takes either an error id (a number show-error prints) or --all`, {
            workaround: `dmq validation ${verb} ${task} <error-id>, or dmq validation ${verb} ${task} --all`,
          });
        }
        const body = { op, ...(opts.all ? { all: true } : { id: Number(id) }) };
        tools.print(
          tools.fromResponse(await tools.client().request('POST', taskPath(await tools.taskNameOf(task), 'errors'), { json: body })),
        );
      }),
    );
  }
}
