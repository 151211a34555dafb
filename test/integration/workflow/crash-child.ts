/**
 * The process the workflow crash test kills. Run as
 *   node --import tsx test/integration/workflow/crash-child.ts <data directory> <ledger file>
 *
 * It starts a node hosting the engine as a node does (a supervised actor per run, worker actors, the
 * timer actor; recovery: WAL replay, every open run resumed in its actor), starts every workflow of the
 * plan (idempotent by id, so a restart starts nothing twice) and prints one line per event, each a
 * synchronous pipe write on Linux:
 *   ready                after recovery
 *   effect <key>         a step's ledger append is durable
 *   finished <id>        a run completed
 *   all-done             every run of the plan completed
 * It never exits on its own; the test kills it.
 */
import { engineRef, workflowClient, workflowEngine } from '../../../actors/workflow/index.js';
import { createNode } from '../../../supervisors/index.js';
import { Ledger, crashPlan, crashWorkflows } from './crash-workflows.js';

const [directory, ledgerPath] = process.argv.slice(2);
if (directory === undefined || ledgerPath === undefined) throw new Error('usage: crash-child.ts <directory> <ledger>');

// Keeps the process alive even if every run waits on nothing (the test then sees no all-done and fails).
setInterval(() => {}, 60_000);
const ledger = new Ledger(ledgerPath, (key) => process.stdout.write(`effect ${key}\n`));
const node = await createNode({ name: 'crash' });
const supervisorRef = await node.startChild(workflowEngine({ dataDir: directory, workflows: crashWorkflows(ledger) }));
const engine = workflowClient(node.system, engineRef(supervisorRef), { timeoutMs: 60_000 });
process.stdout.write('ready\n');
const plan = crashPlan();
await Promise.all(plan.map(async ({ workflowId, input }) => {
  await engine.start('chain', workflowId, input);
  await engine.result(workflowId, { timeoutMs: 600_000 });
  process.stdout.write(`finished ${workflowId}\n`);
}));
process.stdout.write('all-done\n');
