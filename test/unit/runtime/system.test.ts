import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, VirtualClock, behaviour, type Behaviour, type Ref, type Terminated } from '../../../runtime/index.js';
import { flush, waitFor } from '../../support/wait.js';

type Message =
  | { type: 'add'; value: number }
  | { type: 'get' }
  | { type: 'ignore' }
  | { type: 'stop' }
  | { type: 'crash' }
  | { type: 'watch'; target: Ref }
  | { type: 'timer'; key: string; delayMs: number; periodic?: boolean }
  | { type: 'cancel'; key: string }
  | { type: 'tick'; key: string };

interface State { values: number[]; terminated: Terminated[]; ticks: string[] }

const recorder: Behaviour<State, Message> = behaviour<State, Message>({
  name: 'recorder',
  init: () => ({ values: [], terminated: [], ticks: [] }),
  receive(state, message, ctx) {
    switch (message.type) {
      case 'add': state.values.push(message.value); return state;
      case 'get': ctx.reply({ values: [...state.values], terminated: [...state.terminated], ticks: [...state.ticks] }); return state;
      case 'ignore': return state;
      case 'stop': ctx.stopSelf(); return state;
      case 'crash': throw new Error('asked to crash');
      case 'watch': ctx.watch(message.target); return state;
      case 'timer':
        if (message.periodic) ctx.timers.startPeriodic(message.key, { type: 'tick', key: message.key }, message.delayMs);
        else ctx.timers.startSingle(message.key, { type: 'tick', key: message.key }, message.delayMs);
        return state;
      case 'cancel': ctx.timers.cancel(message.key); return state;
      case 'tick': state.ticks.push(message.key); return state;
      case 'terminated': state.terminated.push(message); return state;
    }
  },
});

const systems: ActorSystem[] = [];
function newSystem(options: ConstructorParameters<typeof ActorSystem>[0] = {}): ActorSystem {
  const system = new ActorSystem({ node: 'n1', ...options });
  systems.push(system);
  return system;
}
afterEach(async () => {
  for (const system of systems.splice(0)) await system.stop();
});

describe('tell and ask', () => {
  it('delivers tells from one sender in FIFO order', async () => {
    const system = newSystem();
    const ref = system.spawn(recorder, { name: 'r' });
    for (let value = 0; value < 2000; value += 1) system.tell(ref, { type: 'add', value });
    const reply = await system.ask<{ values: number[] }>(ref, { type: 'get' });
    expect(reply.values).toEqual(Array.from({ length: 2000 }, (_, index) => index));
  });

  it('runs an async init before the first message', async () => {
    const system = newSystem();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const slow = behaviour<number, { type: 'get' }>({
      name: 'slow', init: async () => { await gate; return 41; },
      receive: (state, _message, ctx) => { ctx.reply(state + 1); return state; },
    });
    const ref = system.spawn(slow, { name: 'slow' });
    const answer = system.ask<number>(ref, { type: 'get' });
    release();
    expect(await answer).toBe(42);
  });

  it('fails an ask with ASK_TIMEOUT when the virtual clock passes its deadline', async () => {
    const clock = new VirtualClock();
    const system = newSystem({ clock });
    const ref = system.spawn(recorder, { name: 'r' });
    let settled: unknown;
    const pending = system.ask(ref, { type: 'ignore' }, { timeoutMs: 500 }).catch((error: unknown) => { settled = error; });
    await system.ask(ref, { type: 'get' }, { timeoutMs: 10_000 }).catch(() => undefined);
    clock.advance(499);
    await flush();
    expect(settled).toBeUndefined();
    clock.advance(1);
    await pending;
    expect(settled).toMatchObject({ code: 'ASK_TIMEOUT' });
  });

  it('fails an ask to a path with no actor with NO_SUCH_ACTOR, and a tell goes to dead letters', async () => {
    const system = newSystem();
    await expect(system.ask({ node: 'n1', path: '/nobody' }, { type: 'get' })).rejects.toMatchObject({ code: 'NO_SUCH_ACTOR' });
    const before = system.deadLetters().count;
    system.tell({ node: 'n1', path: '/nobody' }, { type: 'add', value: 7 });
    expect(system.deadLetters().count).toBe(before + 1);
    const letters = await system.ask<{ recent: Array<{ to: string; reason: string; messageType: string; preview: string }> }>(system.deadLetters().ref, { type: 'deadLetters.list' });
    expect(letters.recent.at(-1)).toMatchObject({ to: '/nobody', reason: 'noSuchActor', messageType: 'add', preview: '{"type":"add","value":7}' });
  });

  it('refuses asks with a bad timeout as INVALID_ARGUMENT', async () => {
    const system = newSystem();
    const ref = system.spawn(recorder, { name: 'r' });
    await expect(system.ask(ref, { type: 'get' }, { timeoutMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(system.ask(ref, { type: 'get' }, { timeoutMs: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('rejects a name that is taken or malformed', () => {
    const system = newSystem();
    system.spawn(recorder, { name: 'r' });
    expect(() => system.spawn(recorder, { name: 'r' })).toThrowError(expect.objectContaining({ code: 'NAME_TAKEN' }));
    expect(() => system.spawn(recorder, { name: 'a/b' })).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => system.spawn(recorder, { name: '' })).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('bounded mailboxes', () => {
  it('applies the reject policy: tells past capacity go to dead letters, asks fail MAILBOX_FULL, nothing else is lost', async () => {
    const system = newSystem();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const blocked = behaviour<State, Message>({ ...recorder, name: 'blocked', init: async (ctx) => { await gate; return recorder.init(ctx); } });
    const ref = system.spawn(blocked, { name: 'b', mailbox: { capacity: 3, overflow: 'reject' } });
    for (let value = 0; value < 3; value += 1) system.tell(ref, { type: 'add', value });
    const deadBefore = system.deadLetters().count;
    system.tell(ref, { type: 'add', value: 99 });
    expect(system.deadLetters().count).toBe(deadBefore + 1);
    await expect(system.ask(ref, { type: 'get' })).rejects.toMatchObject({ code: 'MAILBOX_FULL' });
    release();
    await waitFor(() => system.cellOf('/b')?.depth === 0, { what: 'the mailbox to drain' });
    const reply = await system.ask<{ values: number[] }>(ref, { type: 'get' });
    expect(reply.values).toEqual([0, 1, 2]);
  });
});

describe('death watch', () => {
  it('delivers terminated when the watched actor stops, and noProc for one that never existed', async () => {
    const system = newSystem();
    const watcher = system.spawn(recorder, { name: 'watcher' });
    const target = system.spawn(recorder, { name: 'target' });
    system.tell(watcher, { type: 'watch', target });
    system.tell(watcher, { type: 'watch', target: { node: 'n1', path: '/ghost' } });
    await system.ask(watcher, { type: 'get' });
    system.tell(target, { type: 'stop' });
    const reply = await waitFor(async () => {
      const state = await system.ask<{ terminated: Terminated[] }>(watcher, { type: 'get' });
      return state.terminated.length === 2 ? state : undefined;
    }, { what: 'two terminated messages' });
    expect(reply.terminated).toEqual(expect.arrayContaining([
      { type: 'terminated', ref: { node: 'n1', path: '/ghost' }, reason: 'noProc' },
      { type: 'terminated', ref: target, reason: 'normal' },
    ]));
    await expect(system.ask(target, { type: 'get' })).rejects.toMatchObject({ code: 'NO_SUCH_ACTOR' });
  });

  it('reports reason crashed when an unsupervised actor crashes, and fails the queued ask with STOPPED', async () => {
    const system = newSystem();
    const watcher = system.spawn(recorder, { name: 'watcher' });
    const target = system.spawn(recorder, { name: 'target' });
    system.tell(watcher, { type: 'watch', target });
    await system.ask(watcher, { type: 'get' });
    system.tell(target, { type: 'crash' });
    await expect(system.ask(target, { type: 'get' })).rejects.toMatchObject({ code: 'STOPPED' });
    const reply = await waitFor(async () => {
      const state = await system.ask<{ terminated: Terminated[] }>(watcher, { type: 'get' });
      return state.terminated.length === 1 ? state : undefined;
    });
    expect(reply.terminated[0]).toEqual({ type: 'terminated', ref: target, reason: 'crashed' });
  });
});

describe('timers on the virtual clock', () => {
  it('fires single and periodic timers when time advances, and cancel stops them', async () => {
    const clock = new VirtualClock();
    const system = newSystem({ clock });
    const ref = system.spawn(recorder, { name: 'r' });
    system.tell(ref, { type: 'timer', key: 'once', delayMs: 100 });
    system.tell(ref, { type: 'timer', key: 'every', delayMs: 40, periodic: true });
    await system.ask(ref, { type: 'get' }, { timeoutMs: 60_000 });
    clock.advance(99);
    const early = await system.ask<{ ticks: string[] }>(ref, { type: 'get' }, { timeoutMs: 60_000 });
    expect(early.ticks).toEqual(['every', 'every']);
    clock.advance(1);
    const atHundred = await system.ask<{ ticks: string[] }>(ref, { type: 'get' }, { timeoutMs: 60_000 });
    expect(atHundred.ticks).toEqual(['every', 'every', 'once']);
    system.tell(ref, { type: 'cancel', key: 'every' });
    await system.ask(ref, { type: 'get' }, { timeoutMs: 60_000 });
    clock.advance(1000);
    const after = await system.ask<{ ticks: string[] }>(ref, { type: 'get' }, { timeoutMs: 60_000 });
    expect(after.ticks).toEqual(['every', 'every', 'once']);
  });

  it('cancels an actor\'s timers when it stops', async () => {
    const clock = new VirtualClock();
    const system = newSystem({ clock });
    const ref = system.spawn(recorder, { name: 'r' });
    system.tell(ref, { type: 'timer', key: 'every', delayMs: 10, periodic: true });
    system.tell(ref, { type: 'stop' });
    await waitFor(() => system.cellOf('/r') === undefined);
    expect(clock.pending()).toBe(0);
  });
});

describe('stopping the system', () => {
  it('fails pending asks with STOPPED and refuses new ones', async () => {
    const system = new ActorSystem({ node: 'n1', clock: new VirtualClock() });
    const ref = system.spawn(recorder, { name: 'r' });
    const pending = system.ask(ref, { type: 'ignore' }, { timeoutMs: 1000 });
    await system.stop();
    await expect(pending).rejects.toMatchObject({ code: 'STOPPED' });
    await expect(system.ask(ref, { type: 'get' })).rejects.toMatchObject({ code: 'STOPPED' });
    expect(system.tree().children).toEqual([]);
  });
});
