/**
 * GTID sets as the two flavors write them. MySQL (and Aurora MySQL): `uuid:1-5:7,uuid2:1-3`,
 * with MySQL 8.4's tags (`uuid:1-5:tag:1-2`): sets of transaction numbers per server uuid and
 * tag. MariaDB: `0-1-100,1-2-50`, one domain-server-sequence per replication domain, where a
 * domain's position is its last sequence number.
 */

export type GtidFlavor = 'mysql' | 'mariadb';

/** Closed ranges of transaction numbers, sorted, neither overlapping nor touching. */
export type Intervals = [start: bigint, end: bigint][];

export type GtidSet =
  /** Keyed by lower-case uuid, or `uuid:tag` for tagged transactions. */
  { flavor: 'mysql'; sets: Map<string, Intervals> } | { flavor: 'mariadb'; domains: Map<number, { serverId: number; seq: bigint }> };

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const TAG = /^[a-z_][a-z0-9_]{0,31}$/i;
const INTERVAL = /^(\d+)(?:-(\d+))?$/;
const MARIADB_GTID = /^(\d+)-(\d+)-(\d+)$/;
const UINT32_MAX = 2n ** 32n - 1n;
/** MySQL's transaction numbers are positive and below 2^63. */
const GNO_MAX = 2n ** 63n - 2n;

/** Why `text` is not a GTID set of either flavor (or of `flavor`), naming the piece at fault. */
export class GtidSetSyntaxError extends Error {}

function canonicalUuid(uuid: string): string {
  const hex = uuid.replaceAll('-', '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function mergeInto(intervals: Intervals, added: [bigint, bigint]): Intervals {
  const all = [...intervals, added].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: Intervals = [];
  for (const [start, end] of all) {
    const last = merged.at(-1);
    if (!last || start > last[1] + 1n) merged.push([start, end]);
    else if (end > last[1]) last[1] = end;
  }
  return merged;
}

function parseMysql(text: string): GtidSet {
  const sets = new Map<string, Intervals>();
  for (const uuidSet of text.split(',')) {
    const [uuid, ...elements] = uuidSet.split(':');
    if (!uuid || !UUID.test(uuid)) throw new GtidSetSyntaxError(`"${uuidSet}" does not start with a server uuid`);
    if (elements.length === 0) throw new GtidSetSyntaxError(`"${uuidSet}" names no transactions after the uuid`);
    let key = canonicalUuid(uuid);
    const base = key;
    for (const element of elements) {
      const interval = INTERVAL.exec(element);
      if (!interval) {
        if (!TAG.test(element)) throw new GtidSetSyntaxError(`"${element}" in "${uuidSet}" is neither a transaction range (1-5) nor a tag`);
        key = `${base}:${element.toLowerCase()}`;
        continue;
      }
      const start = BigInt(interval[1]!);
      const end = interval[2] === undefined ? start : BigInt(interval[2]);
      if (start < 1n || end < start || end > GNO_MAX) {
        throw new GtidSetSyntaxError(`"${element}" in "${uuidSet}" is not a range of transaction numbers from 1 to 2^63-2, low to high`);
      }
      sets.set(key, mergeInto(sets.get(key) ?? [], [start, end]));
    }
  }
  return { flavor: 'mysql', sets };
}

function parseMariadb(text: string): GtidSet {
  const domains = new Map<number, { serverId: number; seq: bigint }>();
  for (const gtid of text.split(',')) {
    const m = MARIADB_GTID.exec(gtid);
    if (!m) throw new GtidSetSyntaxError(`"${gtid}" is not domain-server-sequence`);
    const [domain, serverId, seq] = [BigInt(m[1]!), BigInt(m[2]!), BigInt(m[3]!)];
    if (domain > UINT32_MAX || serverId > UINT32_MAX || seq > 2n ** 64n - 1n)
      throw new GtidSetSyntaxError(`"${gtid}" has a number out of range`);
    if (domains.has(Number(domain))) throw new GtidSetSyntaxError(`domain ${domain} appears twice ("${gtid}")`);
    domains.set(Number(domain), { serverId: Number(serverId), seq });
  }
  return { flavor: 'mariadb', domains };
}

/**
 * Reads a GTID set as a server prints it (spaces and newlines between parts allowed); the flavor
 * is the one given, or told by the text. An empty text is the empty set. Throws
 * GtidSetSyntaxError naming the part at fault.
 */
export function parseGtidSet(text: string, flavor?: GtidFlavor): GtidSet {
  const compact = text.replace(/\s+/g, '');
  const mysqlLike = compact.includes(':') || compact.split(',').some((part) => UUID.test(part));
  const kind = flavor ?? (mysqlLike ? 'mysql' : 'mariadb');
  if (compact === '') return kind === 'mysql' ? { flavor: 'mysql', sets: new Map() } : { flavor: 'mariadb', domains: new Map() };
  return kind === 'mysql' ? parseMysql(compact) : parseMariadb(compact);
}

/** The set as the servers print it, in a canonical order (uuids and domains sorted). */
export function formatGtidSet(set: GtidSet): string {
  if (set.flavor === 'mariadb') {
    return [...set.domains.entries()]
      .sort(([a], [b]) => a - b)
      .map(([domain, g]) => `${domain}-${g.serverId}-${g.seq}`)
      .join(',');
  }
  const byUuid = new Map<string, string[]>();
  for (const key of [...set.sets.keys()].sort()) {
    const [uuid, tag] = key.split(':') as [string, string | undefined];
    const ranges = set.sets
      .get(key)!
      .map(([start, end]) => (start === end ? `${start}` : `${start}-${end}`))
      .join(':');
    const parts = byUuid.get(uuid) ?? [];
    parts.push(tag === undefined ? ranges : `${tag}:${ranges}`);
    byUuid.set(uuid, parts);
  }
  return [...byUuid.entries()].map(([uuid, parts]) => `${uuid}:${parts.join(':')}`).join(',');
}

/** One transaction's GTID: `uuid:n` or `uuid:tag:n` (MySQL), `domain-server-seq` (MariaDB). */
type OneGtid = { flavor: 'mysql'; key: string; gno: bigint } | { flavor: 'mariadb'; domain: number; serverId: number; seq: bigint };

function parseOneGtid(gtid: string): OneGtid {
  const mariadb = MARIADB_GTID.exec(gtid);
  if (mariadb) return { flavor: 'mariadb', domain: Number(mariadb[1]), serverId: Number(mariadb[2]), seq: BigInt(mariadb[3]!) };
  const parts = gtid.split(':');
  const gno = parts.at(-1) ?? '';
  if (parts.length < 2 || parts.length > 3 || !UUID.test(parts[0]!) || !/^\d+$/.test(gno) || (parts.length === 3 && !TAG.test(parts[1]!)))
    throw new GtidSetSyntaxError(`"${gtid}" is not one transaction's GTID (uuid:n, uuid:tag:n or domain-server-sequence)`);
  const key = parts.length === 3 ? `${canonicalUuid(parts[0]!)}:${parts[1]!.toLowerCase()}` : canonicalUuid(parts[0]!);
  return { flavor: 'mysql', key, gno: BigInt(gno) };
}

function flavorMismatch(a: GtidSet, b: { flavor: GtidFlavor }): never {
  throw new GtidSetSyntaxError(`a ${a.flavor} GTID set cannot be compared with a ${b.flavor} one`);
}

/** The set with the transaction `gtid` added (a new set; MariaDB: the domain's position moves to it). */
export function addGtid(set: GtidSet, gtid: string): GtidSet {
  const one = parseOneGtid(gtid);
  if (one.flavor !== set.flavor) flavorMismatch(set, one);
  if (set.flavor === 'mariadb' && one.flavor === 'mariadb') {
    const domains = new Map(set.domains);
    domains.set(one.domain, { serverId: one.serverId, seq: one.seq });
    return { flavor: 'mariadb', domains };
  }
  const sets = new Map((set as Extract<GtidSet, { flavor: 'mysql' }>).sets);
  const { key, gno } = one as Extract<OneGtid, { flavor: 'mysql' }>;
  sets.set(key, mergeInto(sets.get(key) ?? [], [gno, gno]));
  return { flavor: 'mysql', sets };
}

/**
 * Where the transaction `gtid` stands in `set`: `absent`; `last`, the latest the set holds of its
 * stream (MariaDB domain, MySQL uuid and tag), so a checkpoint at `set` may stand inside it; or
 * `inside`, before that.
 */
export function gtidInSet(set: GtidSet, gtid: string): 'absent' | 'last' | 'inside' {
  const one = parseOneGtid(gtid);
  if (one.flavor !== set.flavor) flavorMismatch(set, one);
  if (set.flavor === 'mariadb' && one.flavor === 'mariadb') {
    const at = set.domains.get(one.domain);
    if (!at || one.seq > at.seq) return 'absent';
    return one.seq === at.seq ? 'last' : 'inside';
  }
  const { key, gno } = one as Extract<OneGtid, { flavor: 'mysql' }>;
  const intervals = (set as Extract<GtidSet, { flavor: 'mysql' }>).sets.get(key) ?? [];
  if (!intervals.some(([start, end]) => start <= gno && gno <= end)) return 'absent';
  return intervals.at(-1)![1] === gno ? 'last' : 'inside';
}

/**
 * The transactions of `a` that `b` lacks. MariaDB: the domains where `a` stands further than `b`,
 * at `a`'s position (a position holds every transaction of its domain up to it).
 */
export function subtractGtidSets(a: GtidSet, b: GtidSet): GtidSet {
  if (a.flavor !== b.flavor) flavorMismatch(a, b);
  if (a.flavor === 'mariadb' && b.flavor === 'mariadb') {
    const domains = new Map([...a.domains].filter(([domain, g]) => g.seq > (b.domains.get(domain)?.seq ?? -1n)));
    return { flavor: 'mariadb', domains };
  }
  const bs = (b as Extract<GtidSet, { flavor: 'mysql' }>).sets;
  const sets = new Map<string, Intervals>();
  for (const [key, intervals] of (a as Extract<GtidSet, { flavor: 'mysql' }>).sets) {
    let left = intervals;
    for (const [start, end] of bs.get(key) ?? []) {
      left = left.flatMap(([s, e]): Intervals => {
        if (end < s || start > e) return [[s, e]];
        const kept: Intervals = [];
        if (s < start) kept.push([s, start - 1n]);
        if (e > end) kept.push([end + 1n, e]);
        return kept;
      });
    }
    if (left.length > 0) sets.set(key, left);
  }
  return { flavor: 'mysql', sets };
}

export function isEmptyGtidSet(set: GtidSet): boolean {
  return set.flavor === 'mariadb' ? set.domains.size === 0 : set.sets.size === 0;
}

/** Whether `a` holds every transaction of `b`. */
export function containsGtidSet(a: GtidSet, b: GtidSet): boolean {
  return isEmptyGtidSet(subtractGtidSets(b, a));
}
