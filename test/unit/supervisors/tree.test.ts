import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock, type InspectionEvent } from '../../../runtime/index.js';
import { createNode, supervisor, type TroupeNode } from '../../../supervisors/index.js';
import { waitFor } from '../../support/wait.js';
import { probe } from './probe.js';

const nodes: TroupeNode[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.stop();
});

describe('the tree registry and inspection', () => {
  it('snapshots status, restarts, last error, mailbox depth and processed count for every actor', async () => {
    const clock = new VirtualClock(5000);
    const log: string[] = [];
    const node = await createNode({
      name: 'n1', clock, backoff: { minMs: 0 },
      children: [
        { id: 'store', start: probe('store', log), restart: 'permanent', shutdownMs: 100, kind: 'worker' },
        { id: 'group', start: supervisor({ strategy: 'rest_for_one', children: [{ id: 'x', start: probe('x', log), restart: 'transient', shutdownMs: 100, kind: 'worker' }] }), restart: 'permanent', shutdownMs: 100, kind: 'supervisor' },
      ],
    });
    nodes.push(node);
    const events: InspectionEvent[] = [];
    node.system.inspect((event) => events.push(event));
    const store = { node: 'n1', path: '/root/store' };
    node.system.tell(store, { type: 'add', value: 1 });
    node.system.tell(store, { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarted'));
    node.system.tell(store, { type: 'add', value: 2 });
    await node.system.ask(store, { type: 'get' });
    const tree = node.tree();
    expect(tree.children[0]).toMatchObject({
      node: 'n1', path: '/root', kind: 'supervisor', behaviour: 'root', status: 'running', restarts: 0,
      children: [
        { path: '/root/store', kind: 'worker', behaviour: 'probe-store', status: 'running', restarts: 1, lastError: { message: 'store crashed on request', at: 5000 }, mailbox: { depth: 0, processed: 4 }, children: [] },
        { path: '/root/group', kind: 'supervisor', status: 'running', restarts: 0, details: { strategy: 'rest_for_one', children: 1 }, children: [{ path: '/root/group/x', kind: 'worker', status: 'running' }] },
      ],
    });
    expect(tree.children.map((child) => child.path)).toEqual(['/root', '/system/deadLetters']);
    expect(events.map((event) => event.type)).toEqual(['crashed', 'deadLetter', 'restarting', 'restarted']);
    expect(events[2]).toMatchObject({ path: '/root/store', delayMs: 0 });
  });

  it('keeps serving other observers when one throws', async () => {
    const node = await createNode({ name: 'n1', backoff: { minMs: 0 }, children: [{ id: 'a', start: probe('a', []), restart: 'permanent', shutdownMs: 100, kind: 'worker' }] });
    nodes.push(node);
    const seen: string[] = [];
    node.system.inspect(() => { throw new Error('broken observer'); });
    node.system.inspect((event) => seen.push(event.type));
    node.system.tell({ node: 'n1', path: '/root/a' }, { type: 'crash' });
    await waitFor(() => seen.includes('restarted'));
    expect(seen).toEqual(['crashed', 'deadLetter', 'restarting', 'restarted']);
  });
});
