/**
 * Regressions through the real kernel: a crash during another child's backoff must not lose the
 * first child's restart; a message a supervisor does not know is refused and never changes its state;
 * crash reports reach the node's structured log.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock, createLogger, type InspectionEvent } from '../../../runtime/index.js';
import { createNode, supervisor, type ChildSpec, type SupervisorReply, type TroupeNode } from '../../../supervisors/index.js';
import { waitFor } from '../../support/wait.js';
import { probe, type ProbeReply } from './probe.js';

const nodes: TroupeNode[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.stop();
});

const w = (path: string) => ({ node: 'n1', path });
const worker = (id: string, log: string[]): ChildSpec => ({ id, start: probe(id, log), restart: 'permanent', shutdownMs: 1000, kind: 'worker' });

async function start(options: Parameters<typeof createNode>[0]): Promise<{ node: TroupeNode; events: InspectionEvent[] }> {
  const node = await createNode({ name: 'n1', onFatal: () => {}, ...options });
  nodes.push(node);
  const events: InspectionEvent[] = [];
  node.system.inspect((event) => events.push(event));
  return { node, events };
}

/** Collects the JSON lines a logger writes. */
function capture(): { lines: Array<Record<string, unknown>>; destination: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination };
}

describe('no child is lost', () => {
  it('restarts both children when a second child crashes while the first waits out its backoff (one_for_one, default backoff)', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const { node, events } = await start({ clock, children: [worker('a', log), worker('b', log)] });
    node.system.tell(w('/root/a'), { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarting' && event.path === '/root/a'), { what: 'a scheduled' });
    clock.advance(5); // b crashes inside a's backoff window
    node.system.tell(w('/root/b'), { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarting' && event.path === '/root/b'), { what: 'b scheduled' });
    clock.advance(100);
    await waitFor(() => events.filter((event) => event.type === 'restarted').length === 2, { what: 'both restarted' });
    expect((await node.system.ask<ProbeReply>(w('/root/a'), { type: 'get' })).incarnation).toBe(1);
    expect((await node.system.ask<ProbeReply>(w('/root/b'), { type: 'get' })).incarnation).toBe(1);
    expect(node.tree().children[0]?.children.map((child) => child.status)).toEqual(['running', 'running']);
  });
});

describe('unknown messages', () => {
  it('refuses an unknown ask with UNKNOWN_MESSAGE and an unknown tell with a dead letter; the supervisor keeps working', async () => {
    const log: string[] = [];
    const { node, events } = await start({ clock: new VirtualClock(), backoff: { minMs: 0 }, children: [worker('a', log)] });
    const reply = await node.system.ask<SupervisorReply>(node.root, { type: 'hello' });
    expect(reply).toMatchObject({ ok: false, code: 'UNKNOWN_MESSAGE' });
    const before = node.system.deadLetters().count;
    node.system.tell(node.root, { type: 'hello' });
    node.system.tell(node.root, 'not even an object');
    await waitFor(() => node.system.deadLetters().count === before + 2, { what: 'two dead letters' });
    expect(events.filter((event) => event.type === 'deadLetter').map((event) => (event as { reason: string }).reason.split(':')[0])).toEqual(['UNKNOWN_MESSAGE', 'UNKNOWN_MESSAGE']);
    expect(node.tree().children[0]?.details).toMatchObject({ children: 1, refused: 3 });
    node.system.tell(w('/root/a'), { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarted' && event.path === '/root/a'), { what: 'a restarted' });
    expect((await node.system.ask<ProbeReply>(w('/root/a'), { type: 'get' })).incarnation).toBe(1);
    expect(node.system.stopped).toBe(false);
  });

  it('refuses messages from outside that imitate the kernel\'s reports and timers', async () => {
    const log: string[] = [];
    const clock = new VirtualClock();
    const { node, events } = await start({ clock, backoff: { minMs: 1000, maxMs: 1000, jitter: 0 }, children: [worker('a', log)] });
    node.system.tell(w('/root/a'), { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarting'));
    for (const forged of [{ type: 'supervisor.restartDue', group: 1 }, { type: 'supervisor.childCrashed', id: 'a' }, { type: 'supervisor.childExited', id: 'a' }]) {
      expect(await node.system.ask(node.root, forged)).toMatchObject({ ok: false, code: 'UNKNOWN_MESSAGE' });
    }
    expect(events.some((event) => event.type === 'restarted')).toBe(false);
    clock.advance(1000);
    await waitFor(() => events.some((event) => event.type === 'restarted'), { what: 'the real timer' });
  });
});

describe('crash reports in the structured log', () => {
  it('logs actor.crashed with path, error and stack, supervisor.restarting with its delay, supervisor.escalated with the chain, and node.stopping', async () => {
    const { lines, destination } = capture();
    const log: string[] = [];
    const inner = supervisor({ strategy: 'one_for_one', name: 'inner', maxRestarts: 1, periodMs: 10_000, backoff: { minMs: 0 }, children: [worker('a', log)] });
    const { node, events } = await start({
      clock: new VirtualClock(), maxRestarts: 0, backoff: { minMs: 0 },
      system: { logger: createLogger({ destination, level: 'info' }) },
      children: [{ id: 'inner', start: inner, restart: 'permanent', shutdownMs: 1000, kind: 'supervisor' }],
    });
    node.system.tell(w('/root/inner/a'), { type: 'crash' });
    await waitFor(() => events.some((event) => event.type === 'restarted'));
    node.system.tell(w('/root/inner/a'), { type: 'crash' });
    const termination = await node.terminated;
    expect(termination).toMatchObject({ exitCode: 1, reason: 'fatal', chain: ['/root/inner', '/root'], child: '/root/inner/a' });
    expect(termination.error).toContain('a crashed on request');
    await waitFor(() => lines.some((line) => line.event === 'node.stopping'), { what: 'the node.stopping line' });
    const crashed = lines.find((line) => line.event === 'actor.crashed');
    expect(crashed).toMatchObject({ node: 'n1', path: '/root/inner/a', error: 'a crashed on request' });
    expect(String(crashed?.stack)).toContain('probe.ts');
    expect(lines.find((line) => line.event === 'supervisor.restarting')).toMatchObject({ path: '/root/inner', child: '/root/inner/a', delayMs: 0 });
    const escalations = lines.filter((line) => line.event === 'supervisor.escalated');
    expect(escalations.map((line) => line.chain)).toEqual([['/root/inner'], ['/root/inner', '/root']]);
    expect(escalations[1]).toMatchObject({ child: '/root/inner/a', error: 'a crashed on request' });
    expect(lines.find((line) => line.event === 'node.stopping')).toMatchObject({ chain: ['/root/inner', '/root'], child: '/root/inner/a' });
  });
});
