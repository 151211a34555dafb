/**
 * The workflow benchmark's node process: a cluster node hosting the workflow engine as `npm start`
 * hosts it (a supervised actor per run, worker actors, the timer actor, histories on the WAL), with
 * the benchmark's two workflow types. The benchmark talks to it through the client SDK over a
 * WebSocket, as a client process talks to a Restate or Temporal server. Prints `port <n>` once ready.
 *
 * Usage: node --import tsx test/bench/workflow/node.ts <dataDir> <port> <token>
 */
import { join } from 'node:path';
import { workflow, workflowEngine, type WorkflowDefinition } from '../../../actors/workflow/index.js';
import { adminToken, createClusterNode } from '../../../cluster/index.js';

const [dataDir, port, token] = process.argv.slice(2);
if (dataDir === undefined || port === undefined || token === undefined) throw new Error('usage: node.ts <dataDir> <port> <token>');

/** Wall-clock time with sub-millisecond resolution, comparable across processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();

/** Three steps; each records when it started, so the benchmark measures step-to-step latency. */
const three = workflow('three', async (ctx, input: number) => {
  let value = input;
  const starts: number[] = [];
  for (const name of ['reserve', 'charge', 'ship']) {
    const done = await ctx.step(name, () => ({ n: value + 1, at: now() }));
    value = done.n;
    starts.push(done.at);
  }
  return starts;
});

/** One step, then a wait for the `go` signal: what is in flight when the node is killed. */
const parked = workflow('parked', async (ctx, input: number) => {
  const first = await ctx.step('first', () => input);
  await ctx.signal('go');
  return first;
});

const node = await createClusterNode({
  name: 'bench', listen: `127.0.0.1:${port}`, secret: 'workflow-bench-secret', dataDir, tokens: [adminToken('admin', token)],
  // The benchmark sends two requests per workflow from one client; the default per-client rate (5,000/s) would be the bound.
  settings: { clientRequestsPerSecond: 1_000_000 },
  children: [workflowEngine({ dataDir: join(dataDir, 'workflows'), workflows: [three, parked] as WorkflowDefinition<never, unknown>[], limits: { runsMax: 1_000_000 } })],
});
process.stdout.write(`port ${node.port}\n`);
process.on('SIGTERM', () => void node.leave());
await node.terminated;
process.exit(0);
