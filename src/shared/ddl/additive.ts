import { isNode, type Node } from './sql-ast.js';

/**
 * Whether a statement only adds what the rows of a merged table's other shards may leave out:
 * columns that take NULL or have a default, and indexes that are not unique. A merged table can
 * take such a change as soon as one shard runs it (optimistic shard mode); anything else could
 * reject or change the other shards' rows.
 */
export function isAdditive(kind: string, tree: Node): boolean {
  if (kind === 'create index') return tree.index_type !== 'unique';
  if (kind !== 'alter table') return false;
  const actions = Array.isArray(tree.expr) ? tree.expr : [];
  return actions.length > 0 && actions.every((action) => isNode(action) && addsOptionalPart(action));
}

function addsOptionalPart(action: Node): boolean {
  if (action.action !== 'add') return false;
  if (action.resource === 'index') return true;
  if (action.resource !== 'column') return false;
  const notNull = isNode(action.nullable) && action.nullable.type === 'not null';
  return !notNull || (action.default_val !== undefined && action.default_val !== null);
}
