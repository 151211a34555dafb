/**
 * The kernel's seam to the cluster layer, exercised by two systems joined by an in-process router that
 * passes every envelope through the CBOR codec (so what crosses is exactly what the wire would carry).
 * The real transport is covered by the cluster's multi-process tests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, behaviour, codec, type Envelope, type Ref, type RemoteRouter, type Terminated } from '../../../runtime/index.js';
import { waitFor } from '../../support/wait.js';

class LoopbackRouter implements RemoteRouter {
  readonly systems = new Map<string, ActorSystem>();
  readonly down = new Set<string>();
  readonly sent: Envelope[] = [];
  constructor(private readonly local: () => ActorSystem) {}
  send(envelope: Envelope): void {
    const wire = codec.decode(codec.encode(envelope)) as Envelope;
    this.sent.push(wire);
    const target = this.systems.get(envelope.to.node);
    if (target === undefined || this.down.has(envelope.to.node)) return;
    queueMicrotask(() => target.deliver(wire));
  }
  isUp(node: string): boolean {
    return this.systems.has(node) && !this.down.has(node);
  }
  watch(target: Ref, watcher: Ref): void {
    this.systems.get(target.node)?.watchFor(target.path, watcher);
  }
  unwatch(): void {}
  declareDown(node: string): void {
    this.down.add(node);
    this.local().nodeDown(node);
  }
}

const echo = behaviour<number, { type: 'echo'; text: string } | { type: 'count' } | { type: 'silent' } | { type: 'stop' }>({
  name: 'echo',
  init: () => 0,
  receive(state, message, ctx) {
    if (message.type === 'echo') { ctx.reply({ text: message.text, from: ctx.sender ?? null }); return state + 1; }
    if (message.type === 'count') { ctx.reply(state); return state; }
    if (message.type === 'stop') ctx.stopSelf();
    return state;
  },
});

const watcher = behaviour<Terminated[], { type: 'watch'; target: Ref } | { type: 'get' }>({
  name: 'watcher',
  init: () => [],
  receive(state, message, ctx) {
    if (message.type === 'watch') ctx.watch(message.target);
    else if (message.type === 'get') ctx.reply([...state]);
    else state.push(message);
    return state;
  },
});

let systems: ActorSystem[] = [];
afterEach(async () => {
  for (const system of systems) await system.stop();
  systems = [];
});

function pair(): { a: ActorSystem; b: ActorSystem; routerA: LoopbackRouter } {
  const a = new ActorSystem({ node: 'a' });
  const b = new ActorSystem({ node: 'b' });
  systems = [a, b];
  const routerA = new LoopbackRouter(() => a);
  const routerB = new LoopbackRouter(() => b);
  for (const router of [routerA, routerB]) { router.systems.set('a', a); router.systems.set('b', b); }
  a.attachRemote(routerA);
  b.attachRemote(routerB);
  return { a, b, routerA };
}

describe('remote refs through the kernel seam', () => {
  it('tells and asks an actor on another node with the same calls as a local one', async () => {
    const { a, b } = pair();
    const remote = b.spawn(echo, { name: 'echo' });
    for (let index = 0; index < 5; index += 1) a.tell(remote, { type: 'echo', text: `t${index}` });
    expect(await a.ask(remote, { type: 'echo', text: 'hi' })).toEqual({ text: 'hi', from: null });
    expect(await a.ask(remote, { type: 'count' })).toBe(6);
  });

  it('fails a remote ask to a missing actor with the remote NO_SUCH_ACTOR code', async () => {
    const { a } = pair();
    await expect(a.ask({ node: 'b', path: '/nobody' }, { type: 'count' })).rejects.toMatchObject({ code: 'NO_SUCH_ACTOR' });
  });

  it('fails fast with NODE_DOWN for a node that is down, and fails pending asks when a node is declared down', async () => {
    const { a, b, routerA } = pair();
    const remote = b.spawn(echo, { name: 'echo' });
    const pending = a.ask(remote, { type: 'silent' }, { timeoutMs: 60_000 });
    await waitFor(() => routerA.sent.length === 1);
    routerA.declareDown('b');
    await expect(pending).rejects.toMatchObject({ code: 'NODE_DOWN' });
    await expect(a.ask(remote, { type: 'count' })).rejects.toMatchObject({ code: 'NODE_DOWN' });
    await expect(a.ask({ node: 'unknown', path: '/x' }, { type: 'count' })).rejects.toMatchObject({ code: 'NODE_DOWN' });
  });

  it('delivers terminated across nodes when a remotely watched actor stops', async () => {
    const { a, b } = pair();
    const remote = b.spawn(echo, { name: 'echo' });
    const local = a.spawn(watcher, { name: 'watcher' });
    a.tell(local, { type: 'watch', target: remote });
    await waitFor(() => b.cellOf('/echo') !== undefined);
    await a.ask(local, { type: 'get' });
    await waitFor(async () => (await b.ask(remote, { type: 'count' })) === 0);
    b.tell(remote, { type: 'stop' });
    const seen = await waitFor(async () => {
      const state = await a.ask<Terminated[]>(local, { type: 'get' });
      return state.length === 1 ? state : undefined;
    });
    expect(seen[0]).toEqual({ type: 'terminated', ref: remote, reason: 'normal' });
  });

  it('refuses an inbound envelope for a missing or stopped target with a typed result', () => {
    const { b } = pair();
    expect(b.deliver({ id: 'x1', to: { node: 'b', path: '/nobody' }, body: { type: 'count' } })).toEqual({ ok: false, code: 'NO_SUCH_ACTOR' });
    expect(b.deliver({ id: 'x2', to: { node: 'other', path: '/echo' }, body: null })).toEqual({ ok: false, code: 'NO_SUCH_ACTOR' });
  });
});
