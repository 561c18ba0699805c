/**
 * How a statement in the binlog bears on the transaction around it: `begin` and `savepoint`
 * statements live inside one, `end` closes it, anything else is a statement of its own (DDL).
 * These are transaction control words, not DDL, so the leading keywords are enough.
 *
 * XA: the rows of an XA transaction sit between `XA START` and `XA PREPARE`, which closes its
 * binlog group; `XA COMMIT` / `XA ROLLBACK` come later in a group of their own, without rows.
 */
export function transactionControl(statement: string): 'begin' | 'end' | 'savepoint' | undefined {
  const [first, second] = statement.toUpperCase().split(/\s+/, 2);
  if (first === 'XA') {
    if (second === 'START' || second === 'BEGIN') return 'begin';
    if (second === 'END') return 'savepoint';
    return 'end';
  }
  if (first === 'BEGIN' || (first === 'START' && second === 'TRANSACTION')) return 'begin';
  if (first === 'SAVEPOINT' || first === 'RELEASE' || (first === 'ROLLBACK' && second === 'TO')) return 'savepoint';
  if (first === 'COMMIT' || first === 'ROLLBACK') return 'end';
  return undefined;
}
