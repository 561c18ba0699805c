import { z } from 'zod';
import { DmqError } from './errors.js';

/** Service settings come from the environment; `dmq serve --help` prints this table. */
export const SETTINGS_HELP: [name: string, meaning: string][] = [
  ['REDIS_URL', 'Redis holding queues and task registry (default redis://127.0.0.1:6379)'],
  ['DMQ_PORT', 'HTTP port of the API, dashboard and metrics (default 8261, DM master port)'],
  ['DMQ_HOST', 'address the API binds to (default 127.0.0.1; 0.0.0.0 in containers); without DMQ_TOKEN always 127.0.0.1'],
  [
    'DMQ_TOKEN',
    "secret every API, dashboard and metrics request must carry (bearer token, or the dashboard's basic-auth password); at least 12 characters",
  ],
  ['DMQ_DUMP_DIR', 'directory for chunk files between dump and load; shared by all processors (default ./dumped_data)'],
  ['DMQ_LOG_LEVEL', 'pino log level: trace, debug, info, warn, error (default info)'],
  ['DMQ_SECRET_KEY', "hex AES-256 key for encrypted passwords (default: DM's built-in key, which is public: set your own)"],
  [
    'DMQ_REQUIRE_SECRET_KEY',
    "true: refuse to start without a DMQ_SECRET_KEY of your own (the Docker image sets it); otherwise DM's key only warns",
  ],
];

const schema = z.object({
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  DMQ_PORT: z.coerce.number().int().min(1).max(65535).default(8261),
  DMQ_HOST: z.string().default('127.0.0.1'),
  DMQ_DUMP_DIR: z.string().default('./dumped_data'),
  // An empty variable (`DMQ_TOKEN=` in a compose file) means no token.
  DMQ_TOKEN: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(12, 'must be at least 12 characters').optional()),
  DMQ_REQUIRE_SECRET_KEY: z
    .enum(['true', 'false', '1', '0', ''], { error: 'expected true or false' })
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
});

export type Settings = z.infer<typeof schema>;

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new DmqError('CONFIG_INVALID', `invalid environment: ${lines.join('; ')}`, {
      workaround: 'fix the variables named; `dmq serve --help` lists them',
    });
  }
  return parsed.data;
}

/** A Redis URL fit for a log line: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '******';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
