import type { DbEndpoint, SourceConfig, TaskConfig } from '../../shared/config/types.js';

const MASK = '******';

/** An endpoint as the API shows it: no password, no TLS private key (certificates are public). */
function publicEndpoint<T extends DbEndpoint>(endpoint: T): T {
  const shown = { ...endpoint, password: MASK };
  if (endpoint.security?.sslKey !== undefined) shown.security = { ...endpoint.security, sslKey: MASK };
  return shown;
}

/** What the API shows of a config: everything but secrets. */
export function publicSource(source: SourceConfig) {
  return { ...source, from: publicEndpoint(source.from) };
}

export function publicTask(task: TaskConfig) {
  return { ...task, target: publicEndpoint(task.target) };
}
