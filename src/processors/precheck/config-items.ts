import type { SourceConfig, TaskConfig } from '../../shared/config/types.js';
import { warn, type Item } from './check.js';

interface ConfigContext {
  task: TaskConfig;
  sources: Map<string, SourceConfig>;
}

/**
 * Not a DM item: the DM fields the task and its sources set that dmq accepted without doing
 * what they ask (only fields that cannot change the data migrated), and what happens instead.
 */
const configNotices: Item<ConfigContext> = {
  name: 'config_notices',
  desc: 'every field the task and its sources set is acted on',
  severity: 'warn',
  async run({ task, sources }) {
    const fromSources = task.instances.flatMap((instance) =>
      (sources.get(instance.sourceId)?.notices ?? []).map((n) => ({ ...n, field: `source ${instance.sourceId}: ${n.field}` })),
    );
    const notices = [...task.notices, ...fromSources];
    if (notices.length === 0) return { errors: [] };
    return {
      errors: notices.map((n) => warn(`${n.field}: ${n.note}`)),
      instruction: 'nothing to do if what happens instead suits you; docs/configuration.md lists every such field',
    };
  },
};

export const CONFIG_ITEMS: Item<ConfigContext>[] = [configNotices];
