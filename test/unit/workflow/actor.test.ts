/**
 * The workflow engine as supervised actors under the real kernel: the embedding API and client, typed
 * refusals of bad requests, and a storage failure injected into the WAL (a failed write) that crashes
 * the engine actor, which its supervisor restarts and which resumes the run by replaying its history.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type TroupeNode } from '../../../supervisors/index.js';
import { SimulatedDisk } from '../../../actors/storage/index.js';
import { engineRef, workflow, workflowClient, workflowEngine, type WorkflowReply } from '../../../actors/workflow/index.js';
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

function findActor(tree: Tree, path: string): Tree | undefined {
  if (tree.path === path) return tree;
  for (const child of tree.children) {
    const found = findActor(child, path);
    if (found !== undefined) return found;
  }
  return undefined;
}

async function startEngine(options: { disk?: SimulatedDisk } = {}): Promise<{ node: TroupeNode; client: ReturnType<typeof workflowClient> }> {
  const node = await createNode({ name: 'n1' });
  nodes.push(node);
  const supervisorRef = await node.startChild(workflowEngine({ dataDir: options.disk ? '/data' : temps.make('troupe-workflow-actor-'), workflows: [order], ...(options.disk ? { disk: options.disk } : {}) }));
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
