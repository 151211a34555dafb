/**
 * Three node processes on loopback over real WebSockets: they form a cluster, carry tells and asks
 * between each other, detect a kill -9 within the failure detector's bound (asks then fail fast and
 * remote watchers hear `nodeDown`), take the restarted node back as a new incarnation, and let a node
 * leave gracefully on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, resolveSettings, timeToPhiMs, type MemberView, type TroupeClient } from '../../../cluster/index.js';
import { freePort, killNode, removeDir, startNodeProcess, stopAll, tempDir, testTiming, type NodeProcess } from '../../support/cluster-harness.js';
import { waitFor } from '../../support/wait.js';

const secret = 'processes-test-secret';
const token = 'processes-test-token';
const echoOn = (node: string) => ({ node, path: '/root/demo/echo' });

/** The detector's bound for the test timing, plus one evaluation tick. */
const detection = resolveSettings({ heartbeatIntervalMs: testTiming.heartbeatMs, detector: { acceptablePauseMs: testTiming.acceptablePauseMs, downPhi: testTiming.downPhi, suspectPhi: testTiming.suspectPhi } });
const detectionBoundMs = timeToPhiMs(detection.detector.downPhi, detection.heartbeatIntervalMs, detection.detector) + 100;
// The deadline is a failure bound on a loaded machine, not a timing assertion: generous slack on top.
const downDeadlineMs = detectionBoundMs * 3 + 10_000;

describe('a three-node cluster of processes', () => {
  const dirs: string[] = [];
  const ports: number[] = [];
  const nodes = new Map<string, NodeProcess>();
  const clients = new Map<string, TroupeClient>();

  const start = async (name: string, index: number, seeds: string[]): Promise<NodeProcess> => {
    const node = await startNodeProcess({ name, port: ports[index]!, seeds, dataDir: dirs[index]!, secret, token });
    nodes.set(name, node);
    return node;
  };
  const statusOf = async (observer: string, member: string): Promise<MemberView | undefined> =>
    (await clients.get(observer)!.members()).find((view) => view.node === member);

  beforeAll(async () => {
    for (let index = 0; index < 3; index += 1) {
      dirs.push(await tempDir(`processes-n${index + 1}`));
      ports.push(await freePort());
    }
    const seed = `ws://127.0.0.1:${ports[0]}`;
    await start('n1', 0, []);
    await Promise.all([start('n2', 1, [seed]), start('n3', 2, [seed])]);
    for (const [name, node] of nodes) clients.set(name, await connect(node.url, { token }));
  }, 120_000);

  afterAll(async () => {
    try {
      for (const client of clients.values()) await client.close();
    } finally {
      await stopAll();
      for (const dir of dirs) await removeDir(dir);
    }
  });

  it('forms a cluster in which every node sees every other node up', async () => {
    for (const observer of ['n1', 'n2', 'n3']) {
      await waitFor(async () => {
        const members = await clients.get(observer)!.members();
        return members.length === 3 && members.every((member) => member.status === 'up');
      }, { timeoutMs: 30_000, what: `${observer} to see three members up` });
    }
  });

  it('carries a tell and an ask across nodes', async () => {
    await clients.get('n1')!.tell({ node: 'n2', path: '/root/demo/counter' }, { type: 'inc', by: 5 });
    const count = await waitFor(async () => {
      const value = await clients.get('n3')!.ask<number>({ node: 'n2', path: '/root/demo/counter' }, { type: 'get' });
      return value === 5 ? value : undefined;
    }, { timeoutMs: 10_000, what: 'the counter on n2 to reach 5' });
    expect(count).toBe(5);
    expect(await clients.get('n1')!.ask(echoOn('n3'), { hello: 'n3' })).toEqual({ type: 'echo', body: { hello: 'n3' } });
  });

  it('marks a kill -9ed node down within the detector bound; asks fail fast and watchers hear nodeDown', async () => {
    const n1 = clients.get('n1')!;
    expect(await n1.ask({ node: 'n1', path: '/root/demo/watcher' }, { type: 'watch', target: echoOn('n3') })).toEqual({ ok: true });
    await clients.get('n3')!.close();
    clients.delete('n3');
    await killNode(nodes.get('n3')!);
    for (const observer of ['n1', 'n2']) {
      await waitFor(async () => (await statusOf(observer, 'n3'))?.status === 'down', { timeoutMs: downDeadlineMs, what: `${observer} to mark n3 down` });
    }
    // A long ask timeout: failing with NODE_DOWN (not ASK_TIMEOUT) shows it failed fast.
    await expect(n1.ask(echoOn('n3'), { hello: 'anyone' }, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'NODE_DOWN' });
    const heard = await waitFor(async () => {
      const terminated = await n1.ask<Array<{ ref: { node: string; path: string }; reason: string }>>({ node: 'n1', path: '/root/demo/watcher' }, { type: 'report' });
      return terminated.find((entry) => entry.ref.node === 'n3' && entry.ref.path === '/root/demo/echo');
    }, { timeoutMs: 10_000, what: 'the watcher to hear about n3' });
    expect(heard.reason).toBe('nodeDown');
  });

  it('takes the restarted node back as a new incarnation', async () => {
    const before = nodes.get('n3')!.incarnation;
    const restarted = await start('n3', 2, [`ws://127.0.0.1:${ports[0]}`]);
    expect(restarted.incarnation).toBeGreaterThan(before);
    for (const observer of ['n1', 'n2']) {
      await waitFor(async () => {
        const view = await statusOf(observer, 'n3');
        return view?.status === 'up' && view.incarnation === restarted.incarnation;
      }, { timeoutMs: 30_000, what: `${observer} to see the new n3 up` });
    }
    expect(await clients.get('n2')!.ask(echoOn('n3'), 'back')).toEqual({ type: 'echo', body: 'back' });
  });

  it('lets a node leave gracefully on SIGTERM: leaving, then removed, never down', async () => {
    const n1 = clients.get('n1')!;
    const seen: string[] = [];
    const stop = await n1.subscribe('membership', (event) => { if (event.member.node === 'n2') seen.push(event.member.status); });
    await clients.get('n2')!.close();
    clients.delete('n2');
    const n2 = nodes.get('n2')!;
    n2.child.kill('SIGTERM');
    expect((await n2.exited).code).toBe(0);
    await waitFor(async () => (await statusOf('n1', 'n2')) === undefined, { timeoutMs: 20_000, what: 'n1 to remove n2' });
    await stop();
    expect(seen).toContain('leaving');
    expect(seen).toContain('removed');
    expect(seen).not.toContain('down');
    expect(n2.output()).toContain('"event":"stopped"');
  });
});
