import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock, createRng, type InspectionEvent } from '../../../runtime/index.js';
import { backoffDelayMs, createNode, recordRestart, supervisor, type ChildSpec, type TroupeNode } from '../../../supervisors/index.js';
import { flush, waitFor } from '../../support/wait.js';
import { probe, type ProbeReply } from './probe.js';

const nodes: TroupeNode[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.stop();
});

function worker(id: string, log: string[], extra: Partial<ChildSpec> = {}): ChildSpec {
  return { id, start: probe(id, log), restart: 'permanent', shutdownMs: 1000, kind: 'worker', ...extra };
}

async function node(options: Parameters<typeof createNode>[0]): Promise<{ node: TroupeNode; events: InspectionEvent[] }> {
  const created = await createNode({ name: 'n1', ...options, onFatal: () => {} });
  nodes.push(created);
  const events: InspectionEvent[] = [];
  created.system.inspect((event) => events.push(event));
  return { node: created, events };
}

const w = (path: string) => ({ node: 'n1', path });

describe('restart intensity and escalation', () => {
  it('escalates to the root when a supervisor exceeds maxRestarts in periodMs; the root restarts the subtree', async () => {
    const log: string[] = [];
    const clock = new VirtualClock();
    const inner = supervisor({ strategy: 'one_for_one', maxRestarts: 2, periodMs: 1000, backoff: { minMs: 0 }, children: [worker('a', log)] });
    const { node: troupe, events } = await node({ clock, maxRestarts: 5, periodMs: 1000, backoff: { minMs: 0 }, children: [{ id: 'inner', start: inner, restart: 'permanent', shutdownMs: 1000, kind: 'supervisor' }] });
    for (let crash = 1; crash <= 3; crash += 1) {
      troupe.system.tell(w('/root/inner/a'), { type: 'crash' });
      await waitFor(() => events.filter((event) => event.type === 'crashed').length === crash, { what: `crash ${crash}` });
      if (crash < 3) await waitFor(() => events.filter((event) => event.type === 'restarted').length === crash);
    }
    await waitFor(() => events.some((event) => event.type === 'restarted' && event.path === '/root/inner'), { what: 'inner supervisor restart' });
    expect(events.find((event) => event.type === 'escalated')).toMatchObject({ path: '/root/inner' });
    const reply = await troupe.system.ask<ProbeReply>(w('/root/inner/a'), { type: 'get' });
    expect(reply.incarnation).toBe(0); // a fresh child under the restarted supervisor
    expect(troupe.tree().children[0]?.children[0]).toMatchObject({ path: '/root/inner', restarts: 1, status: 'running' });
  });

  it('stops the node with exit code 1 when the root supervisor itself exceeds its intensity', async () => {
    const log: string[] = [];
    const { node: troupe, events } = await node({ clock: new VirtualClock(), maxRestarts: 1, periodMs: 1000, backoff: { minMs: 0 }, children: [worker('a', log)] });
    troupe.system.tell(w('/root/a'), { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarted'));
    troupe.system.tell(w('/root/a'), { type: 'crash' });
    const termination = await troupe.terminated;
    expect(termination).toMatchObject({ exitCode: 1, reason: 'fatal' });
    expect(events.filter((event) => event.type === 'escalated').map((event) => event.path)).toContain('/root');
    expect(log).toEqual(['start:a:0', 'stop:a:crashed', 'start:a:1', 'stop:a:crashed']);
    expect(troupe.system.stopped).toBe(true);
    expect(troupe.system.cellOf('/root/a')).toBeUndefined();
  });

  it('forgets restarts older than periodMs (virtual clock)', () => {
    const intensity = { maxRestarts: 2, periodMs: 1000 };
    let window: number[] = [];
    for (const at of [0, 100, 1200, 1300]) {
      const result = recordRestart(window, at, intensity);
      expect(result.exceeded).toBe(false);
      window = result.window;
    }
    expect(recordRestart(window, 1400, intensity).exceeded).toBe(true);
  });
});

describe('backoff', () => {
  it('computes exponential delays with bounded jitter, capped at maxMs', () => {
    const backoff = { minMs: 100, maxMs: 1000, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelayMs(attempt, backoff, 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelayMs(1, backoff, 0.999)).toBe(Math.round(200 * 1.4995));
    expect(backoffDelayMs(5, { minMs: 0, maxMs: 0, jitter: 0 }, 0.5)).toBe(0);
  });

  it('restarts only after the backoff delay has passed on the virtual clock, with a schedule that replays from the seed', async () => {
    const schedules: number[][] = [];
    for (const run of [0, 1]) {
      const clock = new VirtualClock();
      const log: string[] = [];
      const { node: troupe, events } = await node({ clock, seed: 42, maxRestarts: 10, periodMs: 60_000, backoff: { minMs: 100, maxMs: 10_000, jitter: 0.25 }, children: [worker('a', log)] });
      const delays: number[] = [];
      for (let crash = 0; crash < 4; crash += 1) {
        troupe.system.tell(w('/root/a'), { type: 'crash' });
        const restarting = await waitFor(() => events.filter((event) => event.type === 'restarting')[crash]);
        const delayMs = (restarting as { delayMs: number }).delayMs;
        delays.push(delayMs);
        const base = 100 * 2 ** crash;
        expect(delayMs).toBeGreaterThanOrEqual(base);
        expect(delayMs).toBeLessThanOrEqual(Math.round(base * 1.25));
        clock.advance(delayMs - 1);
        await flush();
        expect(events.filter((event) => event.type === 'restarted')).toHaveLength(crash);
        clock.advance(1);
        await waitFor(() => events.filter((event) => event.type === 'restarted').length === crash + 1, { what: `restart ${crash}` });
      }
      schedules[run] = delays;
      await troupe.stop();
    }
    expect(schedules[0]).toEqual(schedules[1]);
    expect(createRng(42).next()).toBeTypeOf('number');
  });
});

describe('crash inside init', () => {
  it('restarts a child whose init fails on a restart until init succeeds', async () => {
    const log: string[] = [];
    const spec: ChildSpec = { id: 'a', start: probe('a', log, { failInitOn: new Set([1, 2]) }), restart: 'permanent', shutdownMs: 1000, kind: 'worker' };
    const { node: troupe, events } = await node({ clock: new VirtualClock(), maxRestarts: 10, backoff: { minMs: 0 }, children: [spec] });
    troupe.system.tell(w('/root/a'), { type: 'crash' });
    await waitFor(() => log.includes('start:a:3'), { what: 'third restart to succeed' });
    expect(log).toEqual(['start:a:0', 'stop:a:crashed', 'initFailed:a:1', 'initFailed:a:2', 'start:a:3']);
    expect(events.filter((event) => event.type === 'crashed')).toHaveLength(3);
    expect((await troupe.system.ask<ProbeReply>(w('/root/a'), { type: 'get' })).incarnation).toBe(3);
  });

  it('refuses a dynamic child whose first init fails with START_FAILED, leaving the rest running', async () => {
    const log: string[] = [];
    const { node: troupe } = await node({ children: [worker('a', log)] });
    await expect(troupe.startChild({ id: 'bad', start: probe('bad', log, { failInitOn: new Set([0]) }), restart: 'permanent', shutdownMs: 100, kind: 'worker' }))
      .rejects.toMatchObject({ code: 'START_FAILED' });
    expect(troupe.tree().children[0]?.children.map((child) => child.path)).toEqual(['/root/a']);
    await expect(troupe.startChild({ id: 'a', start: probe('a', log), restart: 'permanent', shutdownMs: 100, kind: 'worker' })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    await expect(troupe.startChild({ id: 'x y', start: probe('x', log), restart: 'permanent', shutdownMs: 100, kind: 'worker' })).rejects.toMatchObject({ code: 'INVALID_CHILD_SPEC' });
  });

  it('fails createNode when an initial child cannot start, and stops what had started', async () => {
    const log: string[] = [];
    await expect(createNode({ name: 'n1', onFatal: () => {}, children: [worker('a', log), { id: 'bad', start: probe('bad', log, { failInitOn: new Set([0]) }), restart: 'permanent', shutdownMs: 100, kind: 'worker' }] }))
      .rejects.toMatchObject({ code: 'START_FAILED' });
    expect(log).toEqual(['start:a:0', 'initFailed:bad:0', 'stop:a:shutdown']);
  });
});

describe('the restart buffer and poison messages', () => {
  it('holds messages sent to a restarting child and delivers them, in order, to the new incarnation', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const { node: troupe, events } = await node({ clock, backoff: { minMs: 500, maxMs: 500, jitter: 0 }, children: [worker('a', log)] });
    troupe.system.tell(w('/root/a'), { type: 'add', value: 1 });
    troupe.system.tell(w('/root/a'), { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarting'));
    for (const value of [2, 3, 4]) troupe.system.tell(w('/root/a'), { type: 'add', value });
    await waitFor(() => troupe.system.cellOf('/root/a')?.depth === 3, { what: 'three held messages' });
    expect(troupe.tree().children[0]?.children[0]).toMatchObject({ status: 'restarting', mailbox: { depth: 3 } });
    clock.advance(500);
    const reply = await troupe.system.ask<ProbeReply>(w('/root/a'), { type: 'get' });
    expect(reply).toEqual({ id: 'a', incarnation: 1, values: [2, 3, 4] });
  });

  it('sends held messages past the buffer capacity to dead letters', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const { node: troupe, events } = await node({ clock, system: { restartBufferCapacity: 2 }, backoff: { minMs: 500, maxMs: 500, jitter: 0 }, children: [worker('a', log)] });
    troupe.system.tell(w('/root/a'), { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarting'));
    const before = troupe.system.deadLetters().count;
    for (const value of [1, 2, 3, 4]) troupe.system.tell(w('/root/a'), { type: 'add', value });
    await waitFor(() => troupe.system.deadLetters().count === before + 2, { what: 'two dead letters' });
    clock.advance(500);
    await waitFor(() => events.some((event) => event.type === 'restarted'));
    expect((await troupe.system.ask<ProbeReply>(w('/root/a'), { type: 'get' })).values).toEqual([1, 2]);
  });

  it('does not redeliver the crashing message by default; it goes to dead letters and its ask fails ACTOR_CRASHED', async () => {
    const log: string[] = [];
    const { node: troupe, events } = await node({ clock: new VirtualClock(), backoff: { minMs: 0 }, children: [worker('a', log)] });
    troupe.system.tell(w('/root/a'), { type: 'add', value: 7 });
    await expect(troupe.system.ask(w('/root/a'), { type: 'crashOn', value: 7 })).rejects.toMatchObject({ code: 'ACTOR_CRASHED' });
    await waitFor(() => events.some((event) => event.type === 'restarted'));
    expect((await troupe.system.ask<ProbeReply>(w('/root/a'), { type: 'get' })).values).toEqual([]);
    expect(events.filter((event) => event.type === 'deadLetter').map((event) => (event as { reason: string }).reason)).toContain('crashed');
  });

  it('redelivers the crashing message up to retry.maxAttempts times, then dead-letters it as poison', async () => {
    const log: string[] = [];
    const alwaysCrash = probe('a', log);
    const { node: troupe, events } = await node({ clock: new VirtualClock(), maxRestarts: 10, backoff: { minMs: 0 }, children: [{ id: 'a', start: alwaysCrash, restart: 'permanent', shutdownMs: 1000, kind: 'worker', retry: { maxAttempts: 2 } }] });
    await expect(troupe.system.ask(w('/root/a'), { type: 'crash' })).rejects.toMatchObject({ code: 'ACTOR_CRASHED' });
    expect(events.filter((event) => event.type === 'crashed')).toHaveLength(3); // first delivery plus two redeliveries
    expect(events.filter((event) => event.type === 'deadLetter').map((event) => (event as { reason: string }).reason)).toEqual(['poison']);
    await waitFor(() => events.filter((event) => event.type === 'restarted').length === 3);
    expect((await troupe.system.ask<ProbeReply>(w('/root/a'), { type: 'get' })).incarnation).toBe(3);
  });

  it('a redelivered message that succeeds on the new incarnation answers the original ask', async () => {
    const log: string[] = [];
    let failures = 1;
    const flaky = { ...probe('a', log), receive: (state: { values: number[] }, message: unknown, ctx: Parameters<ReturnType<typeof probe>['receive']>[2]) => {
      if ((message as { type: string }).type === 'work' && failures-- > 0) throw new Error('transient failure');
      if ((message as { type: string }).type === 'work') ctx.reply({ done: true, incarnation: ctx.incarnation });
      return state;
    } };
    const { node: troupe } = await node({ clock: new VirtualClock(), backoff: { minMs: 0 }, children: [{ id: 'a', start: flaky, restart: 'permanent', shutdownMs: 1000, kind: 'worker', retry: { maxAttempts: 3 } }] });
    expect(await troupe.system.ask(w('/root/a'), { type: 'work' })).toEqual({ done: true, incarnation: 1 });
  });
});
