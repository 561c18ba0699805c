/**
 * A place in one source's binlog. Batches are ordered by it per table; a transaction split into
 * several batches of one table gets increasing `part` numbers at the same event position.
 */
export interface BinlogCoord {
  file: string;
  pos: number;
  part?: number;
}

/**
 * Where a server's binlog stood at one moment (SHOW MASTER STATUS): a coordinate, so it orders
 * and resumes like one, and the GTID set executed up to it.
 */
export interface BinlogPosition extends BinlogCoord {
  gtid: string;
}

/** The numeric suffix orders binlog files (`mysql-bin.000009` < `mysql-bin.000010`). */
function fileNumber(file: string): number {
  const match = /\.(\d+)$/.exec(file);
  return match ? Number(match[1]) : 0;
}

export function compareCoords(a: BinlogCoord, b: BinlogCoord): number {
  // Most comparisons are within one file: the reader compares every pending batch at each settle.
  if (a.file !== b.file) {
    const byFile = fileNumber(a.file) - fileNumber(b.file);
    if (byFile !== 0) return byFile;
    return a.file < b.file ? -1 : 1;
  }
  if (a.pos !== b.pos) return a.pos - b.pos;
  return (a.part ?? 0) - (b.part ?? 0);
}

export function coordText(c: BinlogCoord): string {
  return `${c.file}:${c.pos}${c.part ? `#${c.part}` : ''}`;
}

export function parseCoordText(text: string): BinlogCoord {
  const match = /^(.*):(\d+)(?:#(\d+))?$/.exec(text);
  if (!match) throw new Error(`not a binlog coordinate: ${JSON.stringify(text)}`);
  const coord: BinlogCoord = { file: match[1]!, pos: Number(match[2]) };
  if (match[3]) coord.part = Number(match[3]);
  return coord;
}
