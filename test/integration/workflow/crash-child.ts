/**
 * The process the workflow crash test kills. Run as
 *   node --import tsx test/integration/workflow/crash-child.ts <data directory> <ledger file>
 *
 * It opens the engine (recovery: WAL replay, every open run resumed), starts every workflow of the
 * plan (idempotent by id, so a restart starts nothing twice) and prints one line per event, each a
 * synchronous pipe write on Linux:
 *   ready                after recovery
 *   effect <key>         a step's ledger append is durable
 *   finished <id>        a run completed
 *   all-done             every run of the plan completed
 * It never exits on its own; the test kills it.
 */
import { WorkflowEngine } from '../../../actors/workflow/index.js';
import { Ledger, crashPlan, crashWorkflows } from './crash-workflows.js';

const [directory, ledgerPath] = process.argv.slice(2);
if (directory === undefined || ledgerPath === undefined) throw new Error('usage: crash-child.ts <directory> <ledger>');

// Keeps the process alive even if every run waits on nothing (the test then sees no all-done and fails).
setInterval(() => {}, 60_000);
const ledger = new Ledger(ledgerPath, (key) => process.stdout.write(`effect ${key}\n`));
const engine = await WorkflowEngine.open({ directory, workflows: crashWorkflows(ledger) });
process.stdout.write('ready\n');
const plan = crashPlan();
await Promise.all(plan.map(async ({ workflowId, input }) => {
  await engine.start('chain', { workflowId, input });
  await engine.result(workflowId);
  process.stdout.write(`finished ${workflowId}\n`);
}));
process.stdout.write('all-done\n');
