/**
 * The client SDK against in-process nodes over real WebSockets: tell and ask anywhere in the cluster
 * through one node with typed errors, the whole tree, lifecycle events from other nodes and
 * membership events, rate limits, and reconnection with renewed subscriptions after the node
 * restarts. Clients never appear as members.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectionEvent } from '../../../runtime/index.js';
import { connect, createClusterNode, demoChildren, type ClientState, type ClusterNode, type ClusterNodeOptions, type MembershipEvent, type TroupeClient } from '../../../cluster/index.js';
import { freePort } from '../../support/cluster-harness.js';
import { waitFor } from '../../support/wait.js';

const secret = 'client-test-secret';
const token = 'client-test-token';

describe('the client SDK', () => {
  let port: number;
  let n1: ClusterNode;
  let n2: ClusterNode;
  let client: TroupeClient;
  const options = (): ClusterNodeOptions => ({
    name: 'n1', listen: `127.0.0.1:${port}`, secret, tokens: [token], children: (node) => demoChildren(node), settings: { clientRequestsPerSecond: 200 },
  });

  beforeAll(async () => {
    port = await freePort();
    n1 = await createClusterNode(options());
    n2 = await createClusterNode({ name: 'n2', listen: '127.0.0.1:0', secret, tokens: [token], seeds: [n1.address], children: (node) => demoChildren(node) });
    await waitFor(() => n1.member('n2')?.status === 'up' && n2.member('n2')?.status === 'up', { timeoutMs: 20_000, what: 'n2 up' });
    client = await connect(`ws://127.0.0.1:${port}`, { token, reconnectMsMin: 50, reconnectMsMax: 200 });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await n2?.stop();
    await n1?.stop();
  });

  it('tells and asks actors on any node through the node it is connected to, with typed errors', async () => {
    expect(client.node).toBe('n1');
    await client.tell({ node: 'n2', path: '/root/demo/counter' }, { type: 'inc', by: 3 });
    await waitFor(async () => (await client.ask<number>({ node: 'n2', path: '/root/demo/counter' }, { type: 'get' })) === 3, { what: 'the tell to land' });
    await expect(client.ask({ node: 'n2', path: '/nobody' }, 1)).rejects.toMatchObject({ code: 'NO_SUCH_ACTOR' });
    await expect(client.ask({ node: 'n2', path: '/root/demo/counter' }, { type: 'inc' }, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'ASK_TIMEOUT' });
    await expect(client.ask({ node: 'n9', path: '/root/demo/echo' }, 1)).rejects.toMatchObject({ code: 'NODE_DOWN' });
    await expect(client.tell({ node: 'n1', path: '/root/demo/echo' }, new Date() as never)).rejects.toMatchObject({ code: 'ENCODE_FAILED' });
  });

  it('lists members (without itself) and the tree of every node', async () => {
    const members = await client.members();
    expect(members.map((member) => member.node).sort()).toEqual(['n1', 'n2']);
    const tree = await client.tree();
    expect(tree.nodes.map((node) => [node.node, node.status])).toEqual([['n1', 'up'], ['n2', 'up']]);
    const n2Root = tree.nodes[1]!.tree!.children.find((child) => child.path === '/root')!;
    const n2Demo = n2Root.children.find((child) => child.path === '/root/demo')!;
    expect(n2Demo.children.map((child) => child.path)).toContain('/root/demo/flaky');
  });

  it('streams lifecycle events from other nodes', async () => {
    const events: InspectionEvent[] = [];
    const stop = await client.subscribe('lifecycle', (event) => events.push(event));
    await client.tell({ node: 'n2', path: '/root/demo/flaky' }, { type: 'crash', reason: 'for the client test' });
    await waitFor(() => events.some((event) => event.type === 'restarted' && event.node === 'n2' && event.path === '/root/demo/flaky'), { what: 'restarted event from n2' });
    expect(events.find((event) => event.type === 'crashed')).toMatchObject({ node: 'n2', path: '/root/demo/flaky', error: 'for the client test' });
    await stop();
  });

  it('streams membership events', async () => {
    const events: MembershipEvent[] = [];
    const stop = await client.subscribe('membership', (event) => events.push(event));
    const n3 = await createClusterNode({ name: 'n3', listen: '127.0.0.1:0', secret, seeds: [n1.address] });
    await waitFor(() => events.some((event) => event.member.node === 'n3' && event.member.status === 'up'), { timeoutMs: 20_000, what: 'n3 up event' });
    await n3.leave();
    await waitFor(() => events.some((event) => event.member.node === 'n3' && event.member.status === 'removed'), { timeoutMs: 20_000, what: 'n3 removed event' });
    await stop();
  });

  it('answers requests beyond the rate limit with RATE_LIMITED', async () => {
    const results = await Promise.allSettled(Array.from({ length: 600 }, () => client.members()));
    const limited = results.filter((result) => result.status === 'rejected' && (result.reason as { code?: string }).code === 'RATE_LIMITED');
    expect(limited.length).toBeGreaterThan(0);
    expect(results.some((result) => result.status === 'fulfilled')).toBe(true);
    await waitFor(async () => (await client.members().then(() => true, () => false)), { what: 'the bucket to refill' });
  });

  it('reconnects after its node restarts and renews its subscriptions', async () => {
    const states: ClientState[] = [];
    client.onState((state) => states.push(state));
    const events: InspectionEvent[] = [];
    await client.subscribe('lifecycle', (event) => events.push(event));
    await n1.stop();
    await waitFor(() => states.includes('reconnecting'), { what: 'the client to notice' });
    await expect(client.members()).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    n1 = await createClusterNode(options());
    await waitFor(() => client.state === 'connected', { timeoutMs: 20_000, what: 'the client to reconnect' });
    expect(states).toEqual(['reconnecting', 'connected']);
    await waitFor(async () => (await client.members()).find((member) => member.node === 'n2')?.status === 'up', { timeoutMs: 20_000, what: 'n2 back in the new n1 view' });
    await client.tell({ node: 'n1', path: '/root/demo/flaky' }, { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarted' && event.node === 'n1'), { what: 'events after the reconnect' });
  });

  it('reconnects on request', async () => {
    await client.reconnect();
    expect(client.state).toBe('connected');
    // Tombstones (n3 left earlier, as 'removed') may have reached the restarted n1 by gossip; the live members are exactly n1 and n2.
    const live = (await client.members()).filter((member) => member.status === 'up').map((member) => member.node).sort();
    expect(live).toEqual(['n1', 'n2']);
  });
});
