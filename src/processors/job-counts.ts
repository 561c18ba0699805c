/**
 * How many times in a row each job has met something (a lock conflict, an unreachable server)
 * in this process. A job can end without this process hearing of it (another process ran it, the
 * task was deleted), so the map is bounded: past `limit` jobs the one counted longest ago is
 * forgotten, and if it comes back it counts from 1 again, which only shortens its next wait.
 */
export function createJobCounts(limit = 10_000) {
  const counts = new Map<string, number>();
  return {
    /** Counts one more for `jobId`; the count in a row. */
    add(jobId: string): number {
      const n = (counts.get(jobId) ?? 0) + 1;
      counts.delete(jobId);
      counts.set(jobId, n);
      if (counts.size > limit) counts.delete(counts.keys().next().value!);
      return n;
    },
    /** The job got through (or failed otherwise): its count starts again. */
    clear(jobId: string): void {
      counts.delete(jobId);
    },
    get size(): number {
      return counts.size;
    },
  };
}
