/**
 * The one place identifiers become SQL text. Values never go through here: they are sent as
 * parameters or encoded by ./values.ts.
 */
export function quoteId(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function qualify(schema: string, table: string): string {
  return `${quoteId(schema)}.${quoteId(table)}`;
}

/** A readable `schema`.`table` for messages (same quoting, so names with dots stay unambiguous). */
export function tableLabel(ref: { schema: string; table: string }): string {
  return qualify(ref.schema, ref.table);
}
