import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock, type InspectionEvent } from '../../../runtime/index.js';
import { createNode, supervisor, type ChildSpec, type RestartType, type Strategy, type TroupeNode } from '../../../supervisors/index.js';
import { waitFor } from '../../support/wait.js';
import { probe, type ProbeReply } from './probe.js';

const nodes: TroupeNode[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.stop();
});

async function startGroup(strategy: Strategy, restart: RestartType, log: string[]): Promise<{ node: TroupeNode; events: InspectionEvent[] }> {
  const children: ChildSpec[] = ['a', 'b', 'c'].map((id) => ({ id, start: probe(id, log), restart, shutdownMs: 1000, kind: 'worker' }));
  const node = await createNode({
    name: 'n1', clock: new VirtualClock(),
    children: [{ id: 'group', start: supervisor({ strategy, maxRestarts: 100, periodMs: 1000, backoff: { minMs: 0 }, children }), restart: 'permanent', shutdownMs: 5000, kind: 'supervisor' }],
  });
  nodes.push(node);
  const events: InspectionEvent[] = [];
  node.system.inspect((event) => events.push(event));
  return { node, events };
}

const ref = (id: string) => ({ node: 'n1', path: `/root/group/${id}` });

async function incarnations(node: TroupeNode): Promise<Record<string, number | 'gone'>> {
  const result: Record<string, number | 'gone'> = {};
  for (const id of ['a', 'b', 'c']) {
    try {
      result[id] = (await node.system.ask<ProbeReply>(ref(id), { type: 'get' })).incarnation;
    } catch (error) {
      expect(error).toMatchObject({ code: 'NO_SUCH_ACTOR' });
      result[id] = 'gone';
    }
  }
  return result;
}

// After child b fails (crash) or exits normally: each child's incarnation, or 'gone' when it was removed.
const crashTable: Array<[Strategy, RestartType, Record<string, number | 'gone'>]> = [
  ['one_for_one', 'permanent', { a: 0, b: 1, c: 0 }],
  ['one_for_one', 'transient', { a: 0, b: 1, c: 0 }],
  ['one_for_one', 'temporary', { a: 0, b: 'gone', c: 0 }],
  ['one_for_all', 'permanent', { a: 1, b: 1, c: 1 }],
  ['one_for_all', 'transient', { a: 1, b: 1, c: 1 }],
  ['one_for_all', 'temporary', { a: 0, b: 'gone', c: 0 }],
  ['rest_for_one', 'permanent', { a: 0, b: 1, c: 1 }],
  ['rest_for_one', 'transient', { a: 0, b: 1, c: 1 }],
  ['rest_for_one', 'temporary', { a: 0, b: 'gone', c: 0 }],
];

const exitTable: Array<[Strategy, RestartType, Record<string, number | 'gone'>]> = [
  ['one_for_one', 'permanent', { a: 0, b: 1, c: 0 }],
  ['one_for_one', 'transient', { a: 0, b: 'gone', c: 0 }],
  ['one_for_one', 'temporary', { a: 0, b: 'gone', c: 0 }],
  ['one_for_all', 'permanent', { a: 1, b: 1, c: 1 }],
  ['one_for_all', 'transient', { a: 0, b: 'gone', c: 0 }],
  ['rest_for_one', 'permanent', { a: 0, b: 1, c: 1 }],
  ['rest_for_one', 'temporary', { a: 0, b: 'gone', c: 0 }],
];

describe('strategies x restart types (OTP supervisor semantics)', () => {
  it.each(crashTable)('%s with %s children: crash of b', async (strategy, restart, expected) => {
    const log: string[] = [];
    const { node, events } = await startGroup(strategy, restart, log);
    node.system.tell(ref('b'), { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === (expected.b === 'gone' ? 'stopped' : 'restarted') && event.path === '/root/group/b'));
    await waitFor(() => Object.values(expected).filter((value) => value === 1).length ===
      events.filter((event) => event.type === 'restarted').length, { what: 'all expected restarts' });
    expect(await incarnations(node)).toEqual(expected);
    expect(events.find((event) => event.type === 'crashed')).toMatchObject({ path: '/root/group/b', error: 'b crashed on request' });
  });

  it.each(exitTable)('%s with %s children: normal exit of b', async (strategy, restart, expected) => {
    const log: string[] = [];
    const { node, events } = await startGroup(strategy, restart, log);
    node.system.tell(ref('b'), { type: 'exit' });
    await waitFor(() => events.some((event) => event.type === (expected.b === 'gone' ? 'stopped' : 'restarted') && event.path === '/root/group/b'));
    await waitFor(() => Object.values(expected).filter((value) => value === 1).length ===
      events.filter((event) => event.type === 'restarted').length, { what: 'all expected restarts' });
    expect(await incarnations(node)).toEqual(expected);
    expect(events.some((event) => event.type === 'crashed')).toBe(false);
  });

  it('one_for_all stops siblings in reverse order before starting all in order', async () => {
    const log: string[] = [];
    const { node, events } = await startGroup('one_for_all', 'permanent', log);
    log.length = 0;
    node.system.tell(ref('a'), { type: 'crash' });
    await waitFor(() => events.filter((event) => event.type === 'restarted').length === 3);
    expect(log).toEqual(['stop:a:crashed', 'stop:c:restart', 'stop:b:restart', 'start:a:1', 'start:b:1', 'start:c:1']);
  });
});

describe('start and stop order', () => {
  it('starts children in spec order and stops them in reverse', async () => {
    const log: string[] = [];
    const node = await createNode({
      name: 'n1',
      children: ['a', 'b', 'c'].map((id) => ({ id, start: probe(id, log), restart: 'permanent', shutdownMs: 1000, kind: 'worker' }) satisfies ChildSpec),
    });
    expect(log).toEqual(['start:a:0', 'start:b:0', 'start:c:0']);
    await node.stop();
    expect(log.slice(3)).toEqual(['stop:c:shutdown', 'stop:b:shutdown', 'stop:a:shutdown']);
    expect(await node.terminated).toEqual({ exitCode: 0, reason: 'stopped' });
  });

  it('abandons a child whose onStop outlives shutdownMs and still stops the rest', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const node = await createNode({
      name: 'n1', clock,
      children: [
        { id: 'a', start: probe('a', log), restart: 'permanent', shutdownMs: 1000, kind: 'worker' },
        { id: 'stuck', start: probe('stuck', log, { hangOnStop: true }), restart: 'permanent', shutdownMs: 250, kind: 'worker' },
      ],
    });
    const stopped = node.stop();
    await waitFor(() => log.includes('stop:stuck:shutdown'));
    expect(log).not.toContain('stop:a:shutdown');
    clock.advance(250);
    await stopped;
    expect(log.at(-1)).toBe('stop:a:shutdown');
  });
});
