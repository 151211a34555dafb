import { describe, expect, it } from 'vitest';
import { behaviour, createNode } from '../../../index.js';
import { waitFor } from '../../support/wait.js';

describe('embedding', () => {
  it('starts a node inside a service, takes the service\'s children, restarts them on crash, and stops cleanly', async () => {
    const initialised: number[] = [];
    const worker = behaviour<number, { type: 'get' } | { type: 'fail' }>({
      name: 'worker',
      init: (ctx) => { initialised.push(ctx.incarnation); return ctx.incarnation * 10; },
      receive(state, message, ctx) {
        if (message.type === 'fail') throw new Error('bug');
        ctx.reply(state);
        return state;
      },
    });
    const node = await createNode({ name: 'svc', backoff: { minMs: 0 } });
    const ref = await node.startChild({ id: 'worker', start: worker, restart: 'permanent', shutdownMs: 500, kind: 'worker' });
    expect(ref).toEqual({ node: 'svc', path: '/root/worker' });
    node.system.tell(ref, { type: 'fail' });
    await waitFor(() => initialised.length === 2);
    expect(await node.system.ask(ref, { type: 'get' })).toBe(10);
    await node.stopChild('worker');
    await expect(node.system.ask(ref, { type: 'get' })).rejects.toMatchObject({ code: 'NO_SUCH_ACTOR' });
    await node.stop();
    expect(await node.terminated).toEqual({ exitCode: 0, reason: 'stopped' });
  });
});

describe('embedding a cluster node', () => {
  it('createNode({ cluster }) joins a cluster and reaches actors on the other node', async () => {
    const echo = behaviour<null, unknown>({ name: 'echo', init: () => null, receive: (state, message, ctx) => { ctx.reply({ echoed: message }); return state; } });
    const first = await createNode({ name: 'e1', cluster: { listen: '127.0.0.1:0', secret: 'embed-secret' }, children: [{ id: 'echo', start: echo, restart: 'permanent', shutdownMs: 500, kind: 'worker' }] });
    const second = await createNode({ name: 'e2', cluster: { listen: '127.0.0.1:0', secret: 'embed-secret', seeds: [first.address] } });
    try {
      await waitFor(() => second.member('e1')?.status === 'up', { timeoutMs: 20_000, what: 'e1 up in e2\'s view' });
      expect(await second.system.ask({ node: 'e1', path: '/root/echo' }, 'hi', { timeoutMs: 5000 })).toEqual({ echoed: 'hi' });
    } finally {
      await second.leave();
      await first.leave();
    }
  });
});
