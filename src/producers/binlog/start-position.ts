import type { Pool } from 'mysql2/promise';
import type { BinlogCoord, BinlogPosition } from '../../shared/binlog/position.js';
import { readSourcePlans } from '../../shared/checkpoint/copy-checkpoint.js';
import type { MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { readSourceSync } from '../../shared/checkpoint/sync-checkpoint.js';
import type { InstanceConfig, TaskConfig } from '../../shared/config/types.js';
import { replaysAfterCopy } from '../../shared/task/stages.js';
import { DmqError } from '../../shared/errors.js';
import { isSwitchOrigin } from './server-switch.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';

/**
 * Where a reader asks the source to start: a file and position, or a GTID set (a task's meta, or
 * a checkpoint rebased by a switch of server). `gtidBefore`: the GTID set of every transaction
 * before a file and position, when known.
 */
export interface StartPosition {
  coord?: BinlogCoord;
  gtid?: string;
  gtidBefore?: string;
}

const withGtid = (coord: BinlogCoord, gtid: string | null | undefined): StartPosition => (gtid ? { coord, gtidBefore: gtid } : { coord });

/**
 * Where this reader starts: its checkpoint, else the copy's low watermark, else the task's meta.
 * Undefined: the copy has not recorded its plan yet.
 */
export async function startPosition(ctx: ServiceContext, task: TaskConfig, instance: InstanceConfig): Promise<StartPosition | undefined> {
  const pool = ctx.pools.target(task);
  const meta = taskMeta(task);
  const sync = await readSourceSync(pool, meta, instance.sourceId);
  if (sync.global) {
    const { coord, gtid } = sync.global;
    // Rebased by a switch of server: only the GTID set says where to go on.
    if (isSwitchOrigin(coord) && gtid !== null) return { gtid };
    return withGtid(coord, gtid);
  }
  if (replaysAfterCopy(task.taskMode)) {
    const plan = (await readSourcePlans(pool, meta)).find((p) => p.sourceId === instance.sourceId);
    if (!plan) return undefined;
    if (!plan.low) {
      throw new DmqError(
        'CONFIG_INVALID',
        `source "${instance.sourceId}" had binary logging off when the copy started, so there is no position to replicate from`,
        {
          where: `mysql-instances[${task.instances.indexOf(instance)}]`,
          workaround: 'enable log_bin with binlog_format=ROW on the source, then start the task again with --remove-meta',
        },
      );
    }
    return withGtid({ file: plan.low.file, pos: plan.low.pos }, plan.low.gtid);
  }
  const m = instance.startPosition;
  if (m?.binlogName && m.binlogPos !== undefined) return { coord: { file: m.binlogName, pos: m.binlogPos } };
  if (m?.binlogGtid) return { gtid: m.binlogGtid };
  throw new DmqError(
    'CONFIG_INVALID',
    `task "${task.name}" is incremental but mysql-instances[${task.instances.indexOf(instance)}].meta gives no start position`,
    {
      where: `mysql-instances[${task.instances.indexOf(instance)}].meta`,
      workaround: 'set meta.binlog-name and meta.binlog-pos (or meta.binlog-gtid) to where replication should start',
    },
  );
}

/**
 * The copy's high watermark (where its changes end: below it batches are applied in safe
 * mode), and in full mode where reading stops.
 */
export async function replayBounds(
  pool: Pool,
  meta: MetaTables,
  task: TaskConfig,
  sourceId: string,
): Promise<{ highWatermark: BinlogPosition | undefined; endAt: BinlogCoord | undefined }> {
  const plan = (await readSourcePlans(pool, meta)).find((p) => p.sourceId === sourceId);
  const highWatermark = plan?.high ?? undefined;
  const endAt = task.taskMode === 'full' ? highWatermark : undefined;
  if (task.taskMode === 'full' && !endAt) {
    throw new DmqError(
      'INTERNAL',
      `source "${sourceId}" has no high watermark recorded, so full mode does not know where its replay ends`,
      {
        workaround: 'start the task again with --remove-meta; please report it',
      },
    );
  }
  return { highWatermark, endAt };
}
