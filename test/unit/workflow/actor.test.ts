/**
 * The workflow engine as supervised actors under the real kernel: the embedding API and client, typed
 * refusals of bad requests, a storage failure injected into the WAL (a failed write) that crashes
 * the engine actor, which its supervisor restarts and which resumes the run by replaying its history;
 * a run actor that crashes in its shell and is restarted by its partition supervisor, replaying to the
 * same state; a worker that crashes while it holds a step attempt, whose step is retried per policy
 * under a new attempt key; durable timers through the timer actor; and retry of a failed run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type TroupeNode } from '../../../supervisors/index.js';
import { SimulatedDisk } from '../../../actors/storage/index.js';
import { engineRef, workflow, workflowClient, workflowEngine, type WorkflowHooks, type WorkflowReply } from '../../../actors/workflow/index.js';
import { TempDirectories } from '../../support/storage-temp.js';
import { waitFor } from '../../support/wait.js';

const temps = new TempDirectories();
const nodes: TroupeNode[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map((node) => node.stop()));
  temps.cleanup();
});

const effects: string[] = [];
const order = workflow('order', async (ctx, input: { item: string }) => {
  let stage = 'charging';
  ctx.setQuery('stage', () => stage);
  const charge = await ctx.step('charge', (step) => {
    effects.push(step.idempotencyKey);
    return `charged ${input.item}`;
  });
  stage = 'awaiting approval';
  const approver = await ctx.signal<string>('approve');
  stage = 'shipping';
  return ctx.step('ship', () => `${charge}, approved by ${approver}, shipped`);
});

type Tree = ReturnType<TroupeNode['tree']>;

function findActor(tree: Tree, path: string | ((path: string) => boolean)): Tree | undefined {
  if (typeof path === 'string' ? tree.path === path : path(tree.path)) return tree;
  for (const child of tree.children) {
    const found = findActor(child, path);
    if (found !== undefined) return found;
  }
  return undefined;
}

let flaky = true;
const flakyOrder = workflow('flaky-order', async (ctx, input: { item: string }) => {
  const charge = await ctx.step('charge', (step) => {
    effects.push(step.idempotencyKey);
    return `charged ${input.item}`;
  }, { retry: { initialIntervalMs: 5, maximumAttempts: 3 } });
  await ctx.sleep('cool-off', 20);
  return ctx.step('ship', (step) => {
    effects.push(step.idempotencyKey);
    if (flaky) throw Object.assign(new Error('carrier down'), { code: 'CARRIER_DOWN' });
    return `${charge}, shipped`;
  }, { retry: { maximumAttempts: 1 } });
});

async function startEngine(options: { disk?: SimulatedDisk; hooks?: WorkflowHooks } = {}): Promise<{ node: TroupeNode; client: ReturnType<typeof workflowClient> }> {
  const node = await createNode({ name: 'n1' });
  nodes.push(node);
  const supervisorRef = await node.startChild(workflowEngine({
    dataDir: options.disk ? '/data' : temps.make('troupe-workflow-actor-'), workflows: [order, flakyOrder],
    ...(options.disk ? { disk: options.disk } : {}), ...(options.hooks ? { hooks: options.hooks } : {}),
  }));
  return { node, client: workflowClient(node.system, engineRef(supervisorRef)) };
}

describe('workflow engine actors', () => {
  it('serves start, query, signal, result, list and history through the client', async () => {
    const { client } = await startEngine();
    await expect(client.start('order', 'o1', { item: 'book' })).resolves.toEqual({ workflowId: 'o1', existing: false });
    await expect(client.start('order', 'o1', { item: 'book' })).resolves.toEqual({ workflowId: 'o1', existing: true });
    await waitFor(async () => (await client.query('o1', 'stage')) === 'awaiting approval', { what: 'awaiting approval' });
    await client.signal('o1', 'approve', 'ada');
    await expect(client.result('o1')).resolves.toBe('charged book, approved by ada, shipped');
    expect(await client.list()).toEqual([expect.objectContaining({ workflowId: 'o1', status: 'completed' })]);
    expect((await client.history('o1')).at(-1)).toMatchObject({ type: 'completed' });
  });

  it('refuses bad requests with typed replies and keeps serving', async () => {
    const { node, client } = await startEngine();
    const ref = { node: 'n1', path: '/root/workflows/engine' };
    expect(await node.system.ask<WorkflowReply>(ref, { type: 'workflow.nope' })).toMatchObject({ ok: false, code: 'UNKNOWN_MESSAGE' });
    expect(await node.system.ask<WorkflowReply>(ref, { type: 'workflow.fault', message: 'forged' })).toMatchObject({ ok: false, code: 'UNKNOWN_MESSAGE' });
    expect(await node.system.ask<WorkflowReply>(ref, { type: 'workflow.start', workflowId: 5 })).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
    expect(await node.system.ask<WorkflowReply>(ref, 'not an object')).toMatchObject({ ok: false, code: 'UNKNOWN_MESSAGE' });
    expect(findActor(node.tree(), '/root/workflows/engine')).toMatchObject({ status: 'running', restarts: 0 });
    await expect(client.start('missing-type', 'x')).rejects.toMatchObject({ code: 'UNKNOWN_WORKFLOW_TYPE' });
    await expect(client.result('nobody')).rejects.toMatchObject({ code: 'WORKFLOW_NOT_FOUND' });
    await expect(client.start('order', 'o2', { item: 'pen' })).resolves.toMatchObject({ existing: false });
  });

  it('a WAL failure crashes the engine actor; its supervisor restarts it and the run resumes from its history', async () => {
    effects.length = 0;
    const disk = new SimulatedDisk({ seed: 3 });
    const { node, client } = await startEngine({ disk });
    await client.start('order', 'o1', { item: 'lamp' });
    await waitFor(async () => (await client.query('o1', 'stage')) === 'awaiting approval', { what: 'awaiting approval' });
    disk.failNext('write');
    await expect(client.signal('o1', 'approve', 'lost')).rejects.toMatchObject({ code: expect.any(String) });
    const engineNode = (): Tree | undefined => findActor(node.tree(), '/root/workflows/engine');
    await waitFor(() => (engineNode()?.restarts ?? 0) >= 1 && engineNode()?.status === 'running', { what: 'engine actor restarted' });
    await waitFor(async () => (await client.query('o1', 'stage').catch(() => undefined)) === 'awaiting approval', { what: 'run replayed after restart' });
    await client.signal('o1', 'approve', 'grace');
    await expect(client.result('o1')).resolves.toBe('charged lamp, approved by grace, shipped');
    expect(effects).toEqual(['o1/charge/1']);
  });
});

describe('one supervised actor per run, workers and timers', () => {
  it('a run actor that crashes in its shell is restarted by its supervisor and replays its history to the same state', async () => {
    effects.length = 0;
    let crashes = 0;
    const hooks: WorkflowHooks = {
      beforeRunInput: (_workflowId, message) => {
        if (message.kind === 'signal' && message.payload === 'boom' && crashes === 0) {
          crashes += 1;
          throw new Error('injected crash in the run shell');
        }
      },
    };
    const { node, client } = await startEngine({ hooks });
    await client.start('order', 'o1', { item: 'lamp' });
    await waitFor(async () => (await client.query('o1', 'stage')) === 'awaiting approval', { what: 'awaiting approval' });
    const runActor = (): Tree | undefined => findActor(node.tree(), (path) => /\/root\/workflows\/runs\/runs-\d+\/run-o1~/.test(path));
    expect(runActor()).toMatchObject({ status: 'running', restarts: 0, kind: 'worker' });
    const before = await waitFor(async () => {
      const history = await client.history('o1');
      return history.some((event) => event.type === 'signalAwaited') ? history : undefined;
    }, { what: 'the signal wait recorded' });
    const result = client.result('o1');
    await expect(client.signal('o1', 'approve', 'boom')).rejects.toBeDefined();
    await waitFor(() => (runActor()?.restarts ?? 0) >= 1 && runActor()?.status === 'running', { what: 'run actor restarted' });
    // The new incarnation replayed the history: the same events, the same live state, no step run again.
    await waitFor(async () => (await client.query('o1', 'stage').catch(() => undefined)) === 'awaiting approval', { what: 'replayed to awaiting approval' });
    expect(await client.history('o1')).toEqual(before);
    await client.signal('o1', 'approve', 'grace');
    await expect(result).resolves.toBe('charged lamp, approved by grace, shipped');
    expect(effects).toEqual(['o1/charge/1']);
    await waitFor(() => runActor() === undefined, { what: 'the finished run actor stopped' });
  });

  it('a worker that crashes holding an attempt is restarted, and the step is retried per policy under a new key', async () => {
    effects.length = 0;
    flaky = false;
    let crashes = 0;
    const hooks: WorkflowHooks = {
      beforeStepReport: (attempt) => {
        if (attempt.stepName === 'charge' && attempt.attempt === 1) {
          crashes += 1;
          throw new Error('injected worker crash after the step ran, before its outcome was reported');
        }
      },
    };
    const { node, client } = await startEngine({ hooks });
    await client.start('flaky-order', 'f1', { item: 'desk' });
    await expect(client.result('f1', { timeoutMs: 30_000 })).resolves.toBe('charged desk, shipped');
    expect(crashes).toBe(1);
    expect(effects).toEqual(['f1/charge/1', 'f1/charge/2', 'f1/ship/1']);
    const history = await client.history('f1');
    expect(history.find((event) => event.type === 'stepFailed')).toMatchObject({ attempt: 1, final: false, failure: { type: 'WORKER_CRASHED' } });
    expect(history.filter((event) => event.type === 'timerFired')).toHaveLength(1);
    expect(findActor(node.tree(), '/root/workflows/workers/queue-default')).toMatchObject({ status: 'running', restarts: 1 });
  });

  it('a worker crash on the last allowed attempt fails the step for good, and retry runs the workflow again as run 2', async () => {
    effects.length = 0;
    flaky = true;
    const { client } = await startEngine();
    await client.start('flaky-order', 'f2', { item: 'chair' });
    await expect(client.result('f2', { timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'WORKFLOW_FAILED' });
    await expect(client.retry('o-missing')).rejects.toMatchObject({ code: 'WORKFLOW_NOT_FOUND' });
    flaky = false;
    await expect(client.retry('f2')).resolves.toEqual({ workflowId: 'f2', run: 2 });
    await expect(client.result('f2', { timeoutMs: 30_000 })).resolves.toBe('charged chair, shipped');
    expect(effects).toEqual(['f2/charge/1', 'f2/ship/1', 'f2#2/charge/1', 'f2#2/ship/1']);
    expect(await client.list()).toEqual([expect.objectContaining({ workflowId: 'f2', status: 'completed', run: 2 })]);
    await expect(client.retry('f2')).rejects.toMatchObject({ code: 'WORKFLOW_NOT_RUNNING' });
  });
});
