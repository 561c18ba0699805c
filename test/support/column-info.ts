import type { ColumnInfo } from '../../src/shared/sql/catalog.js';

/** A nullable, stored column as the catalog describes it, for unit tests of SQL building. */
export const columnInfo = (name: string, dataType: string, columnType = dataType): ColumnInfo => ({
  name,
  dataType,
  columnType,
  nullable: true,
  generated: false,
});
