import type { TaskConfig, TaskMode } from '../../shared/config/types.js';
import { modesRunning } from '../../shared/task/stages.js';
import type { ServerFacts } from './facts.js';
import type { CheckError, Severity } from '../../shared/task/precheck-result.js';
import type { SessionGrants } from './server.js';

/** What a check item is, and the wording helpers every item shares. */

export interface Finding {
  errors: CheckError[];
  instruction?: string;
  extra?: string;
}

export interface Item<C> {
  /** DM's item name, as `ignore-checking-items` lists it. */
  name: string;
  desc: string;
  /** How bad it is when the item cannot be checked at all. */
  severity: Severity;
  /** Task modes the item matters for; every mode when unset. */
  modes?: TaskMode[];
  /** Whether the task gives the item anything to check; an item with nothing to say is left out. */
  needed?: (task: TaskConfig) => boolean;
  run(ctx: C): Promise<Finding>;
}

/** Modes that must replicate; `full` replays the copy's window only when the source allows it. */
export const REPLICATING: TaskMode[] = modesRunning('Sync').filter((mode) => mode !== 'full');
/** Modes that read tables from the source. */
export const DUMPING: TaskMode[] = modesRunning('Dump');
/** More names than this in one message help nobody; the rest is counted. */
const MAX_LISTED = 10;
const MAX_ERRORS = 50;

export const fail = (shortErr: string): CheckError => ({ severity: 'fail', shortErr });
export const warn = (shortErr: string): CheckError => ({ severity: 'warn', shortErr });

export function listed(names: string[], separator = ', '): string {
  const shown = names.slice(0, MAX_LISTED).join(separator);
  return names.length > MAX_LISTED ? `${shown} and ${names.length - MAX_LISTED} more` : shown;
}

export function capped(errors: CheckError[]): CheckError[] {
  if (errors.length <= MAX_ERRORS) return errors;
  const rest = errors.slice(MAX_ERRORS);
  const severity = rest.some((e) => e.severity === 'fail') ? 'fail' : 'warn';
  return [...errors.slice(0, MAX_ERRORS), { severity, shortErr: `and ${rest.length} more like these` }];
}

export function joinText(parts: (string | undefined)[]): string | undefined {
  const text = parts.filter((p): p is string => !!p).join('; ');
  return text === '' ? undefined : text;
}

/**
 * Privileges a SHOW GRANTS line we could not read might have given are unknown, so a shortfall
 * is only a warning then, and the unread lines are reported.
 */
export function privilegeFinding(grants: SessionGrants, shortfalls: string[], instruction: string, itemSeverity: Severity): Finding {
  const severity: Severity = grants.unparsed.length > 0 ? 'warn' : itemSeverity;
  const errors: CheckError[] = shortfalls.map((shortErr) => ({ severity, shortErr }));
  for (const line of grants.unparsed) errors.push(warn(`could not read SHOW GRANTS line, its privileges were not counted: ${line}`));
  const finding: Finding = { errors };
  if (shortfalls.length > 0) finding.instruction = joinText([instruction, ...(grants.roles.length > 0 ? [rolesHint(grants)] : [])]);
  const extra = joinText(grants.notes);
  if (extra) finding.extra = extra;
  return finding;
}

function rolesHint(grants: SessionGrants): string {
  return `roles granted to ${grants.account} (${grants.roles.map((r) => r.role).join(', ')}) count only when active at login (SET DEFAULT ROLE)`;
}

/** Room left under max_connections; a max of 0 means unlimited (TiDB's default). */
export async function connectionRoom(facts: ServerFacts, needed: number, why: string): Promise<Finding> {
  const variables = await facts.variables();
  const max = Number(variables.get('max_connections') ?? 0);
  const perUser = Number(variables.get('max_user_connections') ?? 0);
  const errors: CheckError[] = [];
  if (max > 0) {
    const connected = (await facts.threadsConnected()) ?? 0;
    if (max - connected < needed) {
      errors.push(
        fail(`max_connections is ${max} and ${connected} are connected, leaving ${max - connected}; dmq needs ${needed} (${why})`),
      );
    }
  }
  if (perUser > 0 && perUser < needed) errors.push(fail(`max_user_connections is ${perUser}; dmq needs ${needed} (${why})`));
  if (errors.length === 0) return { errors };
  return { errors, instruction: 'raise max_connections (and max_user_connections), or lower the thread/pool settings named' };
}
