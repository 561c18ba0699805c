import { DmqError } from '../errors.js';
import type { SourceConfig } from './types.js';

/**
 * What `operate-source update` may change under running tasks: the address, the account, TLS,
 * the settings. Not the identity (source-id) nor the flavor, which checkpoints and GTID sets
 * depend on; and a new address only with GTIDs, since it may be another server whose binlog
 * positions mean nothing for the old one's checkpoints (the reader rebases them by GTID set).
 */
export function checkSourceUpdate(current: SourceConfig, next: SourceConfig, pathName: string): void {
  if (next.sourceId !== pathName) {
    throw new DmqError('CONFIG_INVALID', `the source.yaml says source-id "${next.sourceId}", but the update is for source "${pathName}"`, {
      where: 'source-id',
      workaround: `a source's id cannot change: keep source-id: ${pathName}, or register a new source and start the task again`,
    });
  }
  if ((current.flavor ?? next.flavor) !== (next.flavor ?? current.flavor)) {
    throw new DmqError('CONFIG_INVALID', `source "${pathName}" is ${current.flavor}; the update says flavor: ${next.flavor}`, {
      where: 'flavor',
      workaround: `keep flavor: ${current.flavor}: a task cannot follow a source to a server of the other flavor (GTID sets differ); migrate from the new server with a new source and task`,
    });
  }
  const moves = current.from.host !== next.from.host || current.from.port !== next.from.port;
  if (moves && !(current.enableGtid && next.enableGtid)) {
    throw new DmqError(
      'CONFIG_INVALID',
      `source "${pathName}" would move from ${current.from.host}:${current.from.port} to ${next.from.host}:${next.from.port} without GTIDs: binlog positions of one server mean nothing on another`,
      {
        where: 'enable-gtid',
        workaround: current.enableGtid
          ? 'keep enable-gtid: true in the update'
          : 'first update the source with enable-gtid: true and the same address, wait until query-status shows a syncerBinlogGtid, then change the address',
      },
    );
  }
}
