import { nameOf, type Node } from './sql-ast.js';

/**
 * DM's finer event names (src/shared/filter/events.ts) for what an ALTER TABLE clause does, as far
 * as the statement alone shows. DM also compares with the table's schema before the change to name
 * 'value range decrease', 'precision decrease', 'drop unique key', 'remove auto increment' and the
 * like; dmq does not track schemas, so a MODIFY or CHANGE is 'modify column' whatever it changes.
 * Adding an index or key is 'modify constraint', as in DM.
 */

const isNamed = (value: unknown): value is { column: string } => typeof (value as { column?: unknown } | null)?.column === 'string';

/** CHANGE old new ...: a rename when the names differ other than in case (column names ignore case). */
function renamesColumn(action: Node): boolean {
  return (
    isNamed(action.old_column) &&
    isNamed(action.column) &&
    nameOf(action.old_column.column).toLowerCase() !== nameOf(action.column.column).toLowerCase()
  );
}

/** FIRST / AFTER col, which the parser keeps as the clause's suffix. */
const movesColumn = (action: Node) => typeof (action.suffix as { keyword?: unknown } | null)?.keyword === 'string';

function dropKeyKind(keyword: unknown): string {
  if (keyword === 'primary key') return 'drop primary key';
  if (keyword === 'foreign key') return 'modify constraint';
  return 'drop index';
}

export function alterKindsOf(action: Node): string[] {
  const order = movesColumn(action) ? ['modify columns order'] : [];
  // table options (ENGINE=, COMMENT= ...) have a resource but no action
  const what = action.action === undefined ? String(action.resource) : `${String(action.action)} ${String(action.resource)}`;
  switch (what) {
    case 'drop column':
      return ['drop column'];
    case 'rename column':
      return ['rename column'];
    case 'modify column':
      return ['modify column', ...order];
    case 'change column':
      return ['modify column', ...(renamesColumn(action) ? ['rename column'] : []), ...order];
    case 'add index':
    case 'add constraint':
    case 'drop constraint':
      return ['modify constraint'];
    case 'drop index':
      return ['drop index'];
    case 'drop key':
      return [dropKeyKind(action.keyword)];
    case 'engine':
      return ['modify storage engine'];
    default:
      return [];
  }
}
