import { z } from 'zod';
import { DmqError } from './errors.js';

/** Service settings come from the environment; `dmq serve --help` prints this table. */
export const SETTINGS_HELP: [name: string, meaning: string][] = [
  [
    'REDIS_URL',
    'Redis holding queues and task registry (default redis://127.0.0.1:6379); with DMQ_REDIS_SENTINELS only its user, password and database number (/0) count',
  ],
  ['DMQ_REDIS_SENTINELS', 'comma-separated host:port of Redis Sentinels: dmq asks them for the master, and again after a failover'],
  ['DMQ_REDIS_MASTER_NAME', 'the master name the sentinels monitor (sentinel monitor <name> ...); required with DMQ_REDIS_SENTINELS'],
  ['DMQ_REDIS_SENTINEL_PASSWORD', "the sentinels' own password (requirepass in sentinel.conf), if they have one"],
  ['DMQ_PORT', 'HTTP port of the API, dashboard and metrics (default 8261, DM master port)'],
  ['DMQ_HOST', 'address the API binds to (default 127.0.0.1; 0.0.0.0 in containers); without DMQ_TOKEN always 127.0.0.1'],
  [
    'DMQ_TOKEN',
    "admin secret every API, dashboard and metrics request must carry (bearer token, or the browser's basic-auth password); at least 12 characters",
  ],
  [
    'DMQ_READ_TOKEN',
    'read-only secret beside DMQ_TOKEN: status, metrics, pages and every GET, nothing that changes a task, source or queue; at least 12 characters',
  ],
  [
    'DMQ_ALLOWED_HOSTS',
    "comma-separated host names clients and browsers use to reach the API besides IP addresses, localhost, DMQ_HOST and this machine's name (.example.com: that domain and its subdomains)",
  ],
  [
    'DMQ_DUMP_DIR',
    'directory for chunk files between dump and load (dump and load modes, keyless tables, DMQ_COPY_PATH=files); shared by all processors (default ./dumped_data)',
  ],
  [
    'DMQ_COPY_PATH',
    'how full and all tasks copy a table with a primary or unique key: direct (default; each chunk streams from source to target, no file, no shared volume) or files (dumped to DMQ_DUMP_DIR, then loaded)',
  ],
  [
    'DMQ_COPY_BUFFER_MIB',
    'MiB of rows that all the chunks one process copies directly may hold between reading them from the source and writing them to the target (default 32, at least 4); more lets wide rows stream with more read ahead, at that much more memory',
  ],
  [
    'DMQ_TAKEOVER_SECONDS',
    'how long a processor that went silent (crashed, paused, cut off) keeps its binlog readers and jobs before others take them over (default 15, 5 to 300); lower takes over sooner, but a process stalled for longer (a GC pause, a busy host) loses its work more often',
  ],
  ['DMQ_LOG_LEVEL', 'pino log level: trace, debug, info, warn, error (default info)'],
  ['DMQ_SECRET_KEY', "hex AES-256 key for encrypted passwords (default: DM's built-in key, which is public: set your own)"],
  [
    'DMQ_REQUIRE_SECRET_KEY',
    "true: refuse to start without a DMQ_SECRET_KEY of your own (the Docker image sets it); otherwise DM's key only warns",
  ],
  [
    'DMQ_TLS_DIR',
    'directory whose files configs sent to the API may name in ssl-ca, ssl-cert, ssl-key (default: none; then only PEM contents are accepted)',
  ],
];

// An empty variable (`DMQ_TOKEN=` in a compose file) means none.
const optionalSecret = z.preprocess((v) => (v === '' ? undefined : v), z.string().min(12, 'must be at least 12 characters').optional());

/** A host name as a Host header carries it, or `.domain` for the domain and all its subdomains. */
const HOST_NAME = /^\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

const hostList = z
  .string()
  .default('')
  .transform((text) =>
    text
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter((name) => name !== ''),
  )
  .pipe(
    z.array(
      z.string().regex(HOST_NAME, {
        error: (issue) =>
          `"${String(issue.input)}" is not a host name: give names only, without scheme, port or path (e.g. dmq.example.com,.svc.cluster.local); IP addresses need no entry`,
      }),
    ),
  );

const HOST_PORT = /^(\[[0-9a-f:]+\]|[^\s:,[\]]+):(\d{1,5})$/i;

const sentinelList = z
  .string()
  .optional()
  .transform((text) =>
    (text ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  )
  .pipe(
    z.array(
      z
        .string()
        .regex(HOST_PORT, { error: (issue) => `"${String(issue.input)}" is not host:port (e.g. sentinel-1:26379,sentinel-2:26379)` })
        .transform((entry) => {
          const [, host, port] = HOST_PORT.exec(entry)!;
          return { host: host!.replace(/^\[|\]$/g, ''), port: Number(port) };
        }),
    ),
  );

const schema = z
  .object({
    REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
    DMQ_REDIS_SENTINELS: sentinelList,
    DMQ_REDIS_MASTER_NAME: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
    DMQ_REDIS_SENTINEL_PASSWORD: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
    DMQ_PORT: z.coerce.number().int().min(1).max(65535).default(8261),
    DMQ_HOST: z.string().default('127.0.0.1'),
    DMQ_DUMP_DIR: z.string().default('./dumped_data'),
    DMQ_COPY_PATH: z.enum(['direct', 'files'], { error: 'expected direct or files' }).default('direct'),
    DMQ_COPY_BUFFER_MIB: z.coerce.number().int().min(4).default(32),
    DMQ_TLS_DIR: z.string().optional(),
    DMQ_TAKEOVER_SECONDS: z.coerce.number().int().min(5).max(300).default(15),
    DMQ_TOKEN: optionalSecret,
    DMQ_READ_TOKEN: optionalSecret,
    DMQ_ALLOWED_HOSTS: hostList,
    DMQ_REQUIRE_SECRET_KEY: z
      .enum(['true', 'false', '1', '0', ''], { error: 'expected true or false' })
      .default('false')
      .transform((v) => v === 'true' || v === '1'),
  })
  .refine((s) => s.DMQ_REDIS_SENTINELS.length === 0 || s.DMQ_REDIS_MASTER_NAME !== undefined, {
    path: ['DMQ_REDIS_MASTER_NAME'],
    message: 'is required with DMQ_REDIS_SENTINELS: the name the sentinels monitor the master under',
  })
  .refine((s) => s.DMQ_REDIS_SENTINELS.length > 0 || s.DMQ_REDIS_MASTER_NAME === undefined, {
    path: ['DMQ_REDIS_SENTINELS'],
    message: 'is required with DMQ_REDIS_MASTER_NAME: the sentinels to ask for that master (host:port,host:port)',
  })
  // Without an admin token every request may change everything, so a read-only one would guard nothing.
  .refine((s) => s.DMQ_READ_TOKEN === undefined || s.DMQ_TOKEN !== undefined, {
    path: ['DMQ_READ_TOKEN'],
    message: 'needs DMQ_TOKEN as well (without it every request is an admin request)',
  })
  .refine((s) => s.DMQ_READ_TOKEN === undefined || s.DMQ_READ_TOKEN !== s.DMQ_TOKEN, {
    path: ['DMQ_READ_TOKEN'],
    message: 'must differ from DMQ_TOKEN',
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
