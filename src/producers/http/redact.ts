import type { SourceConfig, TaskConfig } from '../../shared/config/types.js';

const MASK = '******';

/** What the API shows of a config: everything but passwords. */
export function publicSource(source: SourceConfig) {
  return { ...source, from: { ...source.from, password: MASK } };
}

export function publicTask(task: TaskConfig) {
  return { ...task, target: { ...task.target, password: MASK } };
}
