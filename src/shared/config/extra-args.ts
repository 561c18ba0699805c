/**
 * mydumper/dumpling command-line options written in a DM task's `mydumpers.<name>.extra-args`.
 * dmq has no dumper binary: the options that narrow what is dumped or tune it map onto dmq's
 * own settings, options about the dump process itself are accepted and ignored, and options
 * that would change which rows or objects arrive in ways dmq cannot reproduce are rejected
 * (copying different data than asked would be worse than refusing).
 */

interface ExtraArgs {
  onlyDbs: string[];
  onlyTables: string[];
  noLocks: boolean;
  threads?: number;
  rows?: number;
}

type Effect = 'database' | 'tables' | 'threads' | 'rows' | 'no-locks' | 'consistency' | 'ignore' | { reject: string };

interface OptionSpec {
  names: string[];
  /** optional: takes the next word when it does not look like an option (dumpling's `--compress gzip` vs mydumper's bare `-c`). */
  value: 'none' | 'required' | 'optional';
  effect: Effect;
}

const use = 'narrow the tables with block-allow-list instead';

const OPTIONS: OptionSpec[] = [
  { names: ['-B', '--database'], value: 'required', effect: 'database' },
  { names: ['-T', '--tables-list'], value: 'required', effect: 'tables' },
  { names: ['-t', '--threads'], value: 'required', effect: 'threads' },
  { names: ['-r', '--rows'], value: 'required', effect: 'rows' },
  { names: ['-k', '--no-locks'], value: 'none', effect: 'no-locks' },
  { names: ['--consistency'], value: 'required', effect: 'consistency' },

  { names: ['--where'], value: 'required', effect: { reject: 'dmq copies whole tables and cannot apply a row condition' } },
  { names: ['-x', '--regex'], value: 'required', effect: { reject: use } },
  { names: ['-f', '--filter'], value: 'required', effect: { reject: use } },
  { names: ['-i', '--ignore-engines'], value: 'required', effect: { reject: use } },
  { names: ['-U', '--updated-since'], value: 'required', effect: { reject: `dmq copies every row; ${use}` } },
  { names: ['--sql'], value: 'required', effect: { reject: 'dmq dumps tables, not query results' } },
  { names: ['--snapshot'], value: 'required', effect: { reject: 'dmq takes its own consistent snapshot and binlog position' } },
  {
    names: ['-d', '--no-data'],
    value: 'none',
    effect: { reject: 'dmq always copies the rows; use task-mode incremental to skip the copy' },
  },
  { names: ['-m', '--no-schemas'], value: 'none', effect: { reject: 'dmq always creates missing target tables' } },
  { names: ['-G', '--triggers'], value: 'none', effect: { reject: 'dmq migrates tables only, not triggers' } },
  { names: ['-E', '--events'], value: 'none', effect: { reject: 'dmq migrates tables only, not events' } },
  { names: ['-R', '--routines'], value: 'none', effect: { reject: 'dmq migrates tables only, not routines' } },

  // About how a dumper process writes files or connects; dmq's dump has its own settings.
  ...[
    ['-o', '--outputdir'],
    ['-F', '--chunk-filesize'],
    ['--filesize'],
    ['-s', '--statement-size'],
    ['-l', '--long-query-guard'],
    ['-I', '--snapshot-interval'],
    ['-L', '--logfile'],
    ['-v', '--verbose'],
    ['-h', '--host'],
    ['-u', '--user'],
    ['-p', '--password'],
    ['-P', '--port'],
    ['-S', '--socket'],
    ['--set-names'],
    ['--csv-separator'],
    ['--csv-delimiter'],
    ['--output-filename-template'],
    ['--filetype'],
    ['--tidb-mem-quota-query'],
    ['--params'],
    ['--ca'],
    ['--cert'],
    ['--key'],
    ['--defaults-file'],
  ].map((names): OptionSpec => ({ names, value: 'required', effect: 'ignore' })),
  { names: ['-c', '--compress'], value: 'optional', effect: 'ignore' },
  ...[
    ['-e', '--build-empty-files'],
    ['-K', '--kill-long-queries'],
    ['--less-locking'],
    ['--trx-consistency-only'],
    ['--use-savepoints'],
    ['--success-on-1146'],
    ['--lock-all-tables'],
    ['--no-backup-locks'],
    ['--tz-utc'],
    ['--skip-tz-utc'],
    ['--complete-insert'],
    ['--no-header'],
    ['--escape-backslash'],
    ['-C', '--compress-protocol'],
    ['-W', '--no-views'],
    ['--transactional-consistency'],
    ['-a', '--ask-password'],
    ['-D', '--daemon'],
  ].map((names): OptionSpec => ({ names, value: 'none', effect: 'ignore' })),
];

const BY_NAME = new Map(OPTIONS.flatMap((spec) => spec.names.map((name) => [name, spec] as const)));

const CONSISTENCY = ['auto', 'none', 'flush', 'lock', 'snapshot'];

/** Split like a POSIX shell: blanks separate words; '...' is literal; "..." and \ escape. */
function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error('unterminated single quote');
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && '"\\$`'.includes(text[j + 1] ?? '')) j++;
        word += text[j];
      }
      if (j >= text.length) throw new Error('unterminated double quote');
      inWord = true;
      i = j;
    } else if (c === '\\') {
      if (i + 1 < text.length) word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

interface Occurrence {
  spec: OptionSpec;
  name: string;
  value: string | undefined;
}

/** Splits words into options with their values; problems go to `problems`. */
function readOptions(words: string[], problems: string[]): Occurrence[] {
  const found: Occurrence[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('-') || word === '-' || word === '--') {
      problems.push(`unexpected argument ${JSON.stringify(word)} (only options are allowed)`);
      continue;
    }
    const eq = word.startsWith('--') ? word.indexOf('=') : -1;
    const isShortWithValue = !word.startsWith('--') && word.length > 2;
    const name = eq >= 0 ? word.slice(0, eq) : isShortWithValue ? word.slice(0, 2) : word;
    const spec = BY_NAME.get(name);
    if (!spec) {
      problems.push(`unknown option ${JSON.stringify(name)}`);
      continue;
    }
    let value = eq >= 0 ? word.slice(eq + 1) : isShortWithValue ? word.slice(2) : undefined;
    if (value !== undefined && spec.value === 'none') {
      problems.push(`option ${name} takes no value, got ${JSON.stringify(value)}`);
      continue;
    }
    if (value === undefined && spec.value !== 'none') {
      const next = words[i + 1];
      if (next !== undefined && (spec.value === 'required' || !next.startsWith('-'))) {
        value = next;
        i++;
      } else if (spec.value === 'required') {
        problems.push(`option ${name} needs a value`);
        continue;
      }
    }
    found.push({ spec, name, value });
  }
  return found;
}

function parseCount(name: string, value: string, min: number, problems: string[]): number | undefined {
  if (/^\d+$/.test(value) && Number(value) >= min && Number.isSafeInteger(Number(value))) return Number(value);
  problems.push(`option ${name} expects ${min > 0 ? 'a positive' : 'a non-negative'} integer, got ${JSON.stringify(value)}`);
  return undefined;
}

const commaList = (value: string) =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');

/**
 * Reads `extra-args`; every problem is pushed to `issues` as `<path>: <problem>`, so one
 * config error can list them all.
 */
export function parseExtraArgs(text: string, path: string, issues: string[]): ExtraArgs {
  const result: ExtraArgs = { onlyDbs: [], onlyTables: [], noLocks: false };
  const problems: string[] = [];
  let words: string[] = [];
  try {
    words = splitShellWords(text);
  } catch (err) {
    problems.push((err as Error).message);
  }
  for (const { spec, name, value } of readOptions(words, problems)) {
    const { effect } = spec;
    if (typeof effect === 'object') {
      problems.push(`option ${name} is not supported: ${effect.reject}`);
    } else if (effect === 'database') result.onlyDbs.push(...commaList(value!));
    else if (effect === 'tables') result.onlyTables.push(...commaList(value!));
    else if (effect === 'no-locks') result.noLocks = true;
    else if (effect === 'threads') result.threads = parseCount(name, value!, 1, problems) ?? result.threads;
    else if (effect === 'rows') result.rows = parseCount(name, value!, 0, problems) ?? result.rows;
    else if (effect === 'consistency') {
      if (CONSISTENCY.includes(value!)) result.noLocks = value === 'none';
      else problems.push(`option --consistency expects one of ${CONSISTENCY.join(', ')}, got ${JSON.stringify(value)}`);
    }
  }
  issues.push(...problems.map((problem) => `${path}: ${problem}`));
  return result;
}
