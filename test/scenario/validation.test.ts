import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getStack, resetDatabases } from '../harness/stack.js';
import { runCli, startDmq, waitForCaughtUp, waitForStatus, type DmqServer } from '../support/dmq.js';
import { ALL_TYPES_TABLE, allTypesRows, execSql, exampleFiles, itemsTable, writeTask } from '../support/fixtures.js';
import { scrapeMetrics } from '../support/metrics.js';
import { startRowWriter } from '../support/writer.js';

const TASK = 'checked';
const ROWS = 300;
/** The steady writer's rows; the rows above it are the test's own. */
const WRITTEN = 250;

let dmq: DmqServer | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await dmq?.stop();
});

interface Validator {
  stage: string;
  mode: string;
  processedRowsStatus: string;
  pendingRowsStatus: string;
  errorRowsStatus: string;
  pendingRows: number;
  lagSeconds: number;
}

interface ErrorRow {
  id: string;
  srcTable: string;
  srcData: string;
  dstData: string;
  errorType: string;
  status: string;
}

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const out = await runCli(dmq!.addr, args);
  assert.equal(out.code, 0, `dmq ${args.join(' ')}: ${out.stdout}${out.stderr}`);
  return JSON.parse(out.stdout) as Record<string, unknown>;
}

const validatorOf = async () => ((await cli(['validation', 'status', TASK])).validators as Validator[])[0]!;
const errorsOf = async (state = 'all') => (await cli(['validation', 'show-error', '--error', state, TASK])).error as ErrorRow[];
const idOf = (e: ErrorRow) => (JSON.parse(e.srcData) as { id: number }).id;

/** Polls the validator until `done`; fails with its last status. */
async function waitForValidator(done: (v: Validator) => boolean, what: string): Promise<Validator> {
  const deadline = Date.now() + 120_000;
  let last: Validator | undefined;
  while (Date.now() < deadline) {
    last = await validatorOf();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`validator: ${what} did not happen; last status ${JSON.stringify(last)}`);
}

const processed = (v: Validator) => (/(\d+)\/(\d+)\/(\d+)$/.exec(v.processedRowsStatus) ?? []).slice(1).reduce((n, x) => n + Number(x), 0);

test('continuous validation: clean under writes, finds a changed, a missing and an extra row, survives kill -9', {
  timeout: 420_000,
}, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  const target = stack.target;
  // The all-types rows overflow a VARBINARY(255) on purpose: stored cut, as a non-strict source would.
  await execSql(upstream, [
    "SET SESSION sql_mode = ''",
    ...itemsTable('val_db', ROWS),
    ALL_TYPES_TABLE.replace('test_db.', 'val_db.'),
    ...allTypesRows(0).map((s) => s.replace('test_db.', 'val_db.')),
  ]);
  const files = await exampleFiles();
  const taskFile = await writeTask({
    name: TASK,
    mode: 'all',
    schema: 'val_db',
    instance: ['validator-config-name: quick'],
    // A short delay so the test sees errors soon; a small batch so compares span several queries.
    extra: 'validators:\n  quick: { mode: full, worker-count: 2, validate-interval: 1s, row-error-delay: 3s, batch-query-size: 7 }',
  });
  dmq = await startDmq();
  assert.equal((await runCli(dmq.addr, ['operate-source', 'create', files.sources[0]!])).code, 0);
  const started = await runCli(dmq.addr, ['start-task', taskFile]);
  assert.equal(started.code, 0, started.stdout);
  await waitForStatus(dmq.addr, TASK, (s) => s.sources[0]!.subTaskStatus[0]!.unit === 'Sync', 180_000);

  // Steady writes, and changes to rows of every column type: nothing differs, nothing is reported.
  const writer = startRowWriter(upstream, { table: 'val_db.items', rows: WRITTEN, insertFrom: 10_000, seed: 3 });
  await execSql(upstream, [
    "SET SESSION sql_mode = ''",
    ...allTypesRows(100).map((s) => s.replace('test_db.', 'val_db.')),
    "UPDATE val_db.test_table SET vc = CONCAT(COALESCE(vc, ''), ' ✓'), d = COALESCE(d, 0) + 1 WHERE id < 100",
    'DELETE FROM val_db.test_table WHERE id = 104',
  ]);
  await new Promise((r) => setTimeout(r, 4_000));
  await writer.stop();
  await waitForCaughtUp(dmq.addr, TASK, [upstream], 120_000);
  const clean = await waitForValidator((v) => v.pendingRows === 0 && processed(v) > 0, 'every change validated');
  assert.equal(clean.stage, 'Running');
  assert.equal(clean.mode, 'full');
  assert.deepEqual(await errorsOf(), [], 'no row reported while nothing differs');

  // The source changes rows 291, 292 and 293 (a delete), and once they are applied the target
  // is damaged behind dmq's back: 291 changed, 292 deleted, 293 put back. The validator is
  // stopped meanwhile, so it looks only after the damage, as it would at a later change.
  await cli(['validation', 'stop', TASK]);
  await execSql(upstream, [
    "UPDATE val_db.items SET c = 'changed upstream' WHERE id IN (291, 292)",
    'DELETE FROM val_db.items WHERE id = 293',
  ]);
  await waitForCaughtUp(dmq.addr, TASK, [upstream], 60_000);
  await execSql(target, [
    'UPDATE val_db.items SET k = -1 WHERE id = 291',
    'DELETE FROM val_db.items WHERE id = 292',
    "INSERT INTO val_db.items VALUES (293, 3, 'back on the target')",
  ]);
  assert.equal((await validatorOf()).stage, 'Stopped');
  await cli(['validation', 'start', TASK]);
  await waitForValidator((v) => v.errorRowsStatus === 'new/ignored/resolved: 3/0/0' && v.pendingRows === 0, 'three errors');
  const errors = await errorsOf('unprocessed');
  assert.deepEqual(errors.map((e) => [idOf(e), e.errorType, e.srcTable]).sort(), [
    [291, 'Column data not matched', '`val_db`.`items`'],
    [292, 'Expected rows not exist', '`val_db`.`items`'],
    [293, 'Deleted rows exist', '`val_db`.`items`'],
  ]);
  const changed = errors.find((e) => idOf(e) === 291)!;
  assert.equal((JSON.parse(changed.dstData) as { k: number }).k, -1, 'the target row is shown');

  const status = await cli(['query-status', TASK]);
  const sub = (status.sources as { subTaskStatus: { validation?: { errorRows: { NewErr: number } } }[] }[])[0]!.subTaskStatus[0]!;
  assert.equal(sub.validation?.errorRows.NewErr, 3, 'query-status shows the validator');
  const metrics = await scrapeMetrics(dmq.addr);
  assert.deepEqual(metrics.get('dmq_validation_error_rows', { task: TASK, status: 'NewErr' }), [3]);
  assert.deepEqual(metrics.get('dmq_validation_pending_rows', { task: TASK }), [0]);

  // ignore-error, resolve-error (make-resolve), clear-error (clear) change the errors' state.
  await cli(['validation', 'ignore-error', TASK, changed.id]);
  assert.deepEqual((await errorsOf('unprocessed')).map(idOf).sort(), [292, 293]);
  assert.deepEqual((await errorsOf('ignored')).map(idOf), [291]);
  await cli(['validation', 'make-resolve', TASK, '--all']);
  assert.equal((await validatorOf()).errorRowsStatus, 'new/ignored/resolved: 0/0/3');
  assert.deepEqual(await errorsOf('unprocessed'), []);
  await cli(['validation', 'clear', TASK, changed.id]);
  assert.deepEqual((await errorsOf('all')).map(idOf).sort(), [292, 293]);
  const refused = await runCli(dmq.addr, ['validation', 'clear-error', TASK, changed.id]);
  assert.notEqual(refused.code, 0, 'an error id that is gone is refused');

  // Changes while stopped wait on the target, and a kill -9 loses neither them nor the errors.
  await cli(['validation', 'stop', TASK]);
  await execSql(upstream, [
    'UPDATE val_db.items SET k = k + 1 WHERE id BETWEEN 270 AND 280',
    'UPDATE val_db.items SET k = k + 1 WHERE id = 270',
  ]);
  await waitForCaughtUp(dmq.addr, TASK, [upstream], 60_000);
  const before = await validatorOf();
  assert.equal(before.pendingRows, 11, 'one pending row per key changed');
  const dumpDir = dmq.dumpDir;
  await dmq.kill();
  dmq = await startDmq({ dumpDir });
  const restarted = await validatorOf();
  assert.equal(restarted.stage, 'Stopped');
  assert.equal(restarted.pendingRows, 11);
  await cli(['validation', 'start', TASK]);
  const resumed = await waitForValidator((v) => v.pendingRows === 0, 'the pending rows validated after the restart');
  assert.equal(processed(resumed), processed(before) + 11);
  assert.deepEqual((await errorsOf('all')).map(idOf).sort(), [292, 293], 'the errors survived the restart; nothing new');
});
