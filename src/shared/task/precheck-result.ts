/** The shape of DM's `check-task` output, so a DM user reads dmq's precheck the same way. */

export type CheckState = 'success' | 'warn' | 'fail';
export type Severity = 'fail' | 'warn';

export interface CheckError {
  severity: Severity;
  shortErr: string;
}

export interface CheckResult {
  id: number;
  /** DM's item name (`dump_privilege`, `binlog_format`, ...), the name `ignore-checking-items` takes. */
  name: string;
  desc: string;
  state: CheckState;
  /** Unset for the target and for items that compare several sources. */
  sourceId?: string;
  /** `host:port` of the server checked, so a message says where to go and fix it. */
  address?: string;
  errors: CheckError[];
  instruction?: string;
  extra?: string;
}

export interface PrecheckResult {
  passed: boolean;
  results: CheckResult[];
}

function where(result: CheckResult): string {
  const address = result.address ? ` (${result.address})` : '';
  if (result.sourceId !== undefined) return ` on source ${JSON.stringify(result.sourceId)}${address}`;
  return result.address ? ` on target${address}` : '';
}

/** One line per failed item, for the task's error and the CLI. */
export function summarizePrecheck(result: PrecheckResult): string {
  const failed = result.results.filter((r) => r.state === 'fail');
  if (failed.length === 0) {
    const warned = result.results.filter((r) => r.state === 'warn').length;
    return warned === 0 ? 'precheck passed' : `precheck passed with ${warned} warning${warned === 1 ? '' : 's'}`;
  }
  const lines = failed.map((r) => {
    const errors = r.errors
      .filter((e) => e.severity === 'fail')
      .map((e) => e.shortErr)
      .join('; ');
    const fix = r.instruction ? ` — ${r.instruction}` : '';
    return `${r.name}${where(r)}: ${errors || r.desc}${fix}`;
  });
  return lines.length === 1 ? `precheck failed: ${lines[0]}` : `precheck failed:\n- ${lines.join('\n- ')}`;
}
