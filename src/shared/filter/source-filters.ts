import type { EventFilterRule, InstanceConfig, SourceConfig, TaskConfig } from '../config/types.js';

/** The binlog event filter rules one task applies to one source's events, and how names compare. */
export interface InstanceEventRules {
  rules: EventFilterRule[];
  caseSensitive: boolean;
}

/**
 * As DM starts a task on a source (copyConfigFromSource): the source's `filters` follow the
 * task's `filter-rules`, except a source rule whose schema-pattern and table-pattern a rule
 * before it already has ("task level config has higher priority"); patterns compare lower-cased
 * unless case-sensitive. Names compare case-sensitively when the task or the source says so.
 */
export function instanceEventRules(task: TaskConfig, instance: InstanceConfig, source: SourceConfig): InstanceEventRules {
  const caseSensitive = task.caseSensitive || (source.caseSensitive ?? false);
  const keyOf = (rule: EventFilterRule) => {
    const key = `${rule.schemaPattern}\u0000${rule.tablePattern ?? ''}`;
    return caseSensitive ? key : key.toLowerCase();
  };
  const rules = [...instance.filters];
  const taken = new Set(rules.map(keyOf));
  for (const rule of source.filters ?? []) {
    if (taken.has(keyOf(rule))) continue;
    taken.add(keyOf(rule));
    rules.push(rule);
  }
  return { rules, caseSensitive };
}
