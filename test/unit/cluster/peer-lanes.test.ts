/**
 * The notice lane in the peer shell (cluster/peer.ts), over a hand-driven socket: death-watch notices
 * are written ahead of a bulk backlog that a slow reader holds back, a full bulk outbox refuses no
 * watch, acks free each lane on its own, a reconnect resends unacknowledged notices before bulk, and
 * the receiving side takes each lane in order on its own (gaps dropped, stale copies re-acked,
 * duplicates skipped). Order is asserted by position in what the socket was given, never by time.
 */
import { describe, expect, it } from 'vitest';
import { codec, VirtualClock, type Envelope } from '../../../runtime/index.js';
import { resolveSettings, type ClusterSettings } from '../../../cluster/config.js';
import type { LinkFrame, StreamFrame } from '../../../cluster/core/frames.js';
import { Peer, type PeerHost } from '../../../cluster/peer.js';
import type { FramedSocket } from '../../../cluster/socket.js';
import { waitFor } from '../../support/wait.js';

/** A socket whose reader the test controls: writes complete only when `catchUp` is called. */
class HandDrivenSocket {
  closed = false;
  bufferedAmount = 0;
  readonly written: unknown[] = [];
  readonly #pending: Array<() => void> = [];
  handler: { frames(frames: readonly unknown[]): void; closed(): void } | undefined;

  setHandler(handler: { frames(frames: readonly unknown[]): void; closed(): void }): void {
    this.handler = handler;
  }

  sendMessage(message: Uint8Array, done?: () => void): void {
    this.written.push(...(codec.decode(message) as unknown[]));
    if (done !== undefined) this.#pending.push(done);
  }

  sendFrames(frames: readonly unknown[]): void {
    this.written.push(...frames);
  }

  refuse(): void {}

  close(): void {
    this.closed = true;
  }

  /** The reader caught up: nothing is buffered, and every write completes. */
  catchUp(): void {
    this.bufferedAmount = 0;
    for (const done of this.#pending.splice(0)) done();
  }

  asFramed(): FramedSocket {
    return this as unknown as FramedSocket;
  }
}

function peerFor(settings: ClusterSettings, clock = new VirtualClock(1_000)): { peer: Peer; delivered: StreamFrame[]; clock: VirtualClock } {
  const delivered: StreamFrame[] = [];
  const host: PeerHost = {
    codec, clock, settings,
    deliverStream: (_peer, frame) => {
      delivered.push(frame);
      return 'done';
    },
    control: (_peer: Peer, _frame: LinkFrame) => {},
    heartbeat: () => {},
    abandoned: () => {},
    rejectedInbound: () => {},
    problem: () => {},
  };
  return { peer: new Peer('n2', 'ws://n2', host), delivered, clock };
}

const bulkEnvelope = (index: number): Envelope => ({ id: `n1.b.${index}`, to: { node: 'n2', path: '/root/sink' }, body: { type: 'item', index } });
const terminatedEnvelope = (index: number): Envelope => ({
  id: `n1.t.${index}`, to: { node: 'n2', path: '/root/watcher' }, body: { type: 'terminated', ref: { node: 'n1', path: `/root/gone-${index}` }, reason: 'stopped' },
});
const watcher = { node: 'n1', path: '/root/watcher' };
/** The lane a written stream frame belongs to: 'notice', 'bulk' or 'atMostOnce' (undefined for other frames). */
function laneWritten(frame: unknown): string | undefined {
  if (Array.isArray(frame)) return ['atMostOnce', 'bulk', 'notice'][frame[0] as number];
  const fields = frame as { type: string; lane?: string; reliable?: number };
  if (fields.type !== 'watch' && fields.type !== 'unwatch') return undefined;
  return fields.reliable === undefined ? 'atMostOnce' : fields.lane ?? 'bulk';
}

describe('the notice lane in the peer', () => {
  const settings = resolveSettings({ bufferedBytesHighWater: 1_024, outboxMax: 50 });

  it('writes notices ahead of a bulk backlog held back by a slow reader, and a full bulk outbox refuses no watch', async () => {
    const { peer } = peerFor(settings);
    const socket = new HandDrivenSocket();
    peer.attach(socket.asFramed(), 1, false, () => {});
    socket.bufferedAmount = 10 * 1024 * 1024; // the reader is far behind
    for (let index = 1; index <= 50; index += 1) expect(peer.sendStream({ type: 'envelope', envelope: bulkEnvelope(index) }, true)).toEqual({ ok: true });
    expect(peer.sendStream({ type: 'envelope', envelope: bulkEnvelope(51) }, true)).toEqual({ ok: false, code: 'OUTBOX_FULL' });
    for (let index = 1; index <= 100; index += 1) expect(peer.sendStream({ type: 'envelope', envelope: { ...bulkEnvelope(100 + index), id: `n1.m.${index}` } }, false)).toEqual({ ok: true });
    expect(peer.sendStream({ type: 'watch', target: '/root/target', watcher }, true)).toEqual({ ok: true });
    expect(peer.sendStream({ type: 'envelope', envelope: terminatedEnvelope(1) }, false)).toEqual({ ok: true });
    expect(peer.sendStream({ type: 'unwatch', target: '/root/target', watcher }, true)).toEqual({ ok: true });
    await waitFor(() => socket.written.length >= 3, { what: 'the notices on the wire' });
    expect(socket.written).toEqual([
      { type: 'watch', reliable: 1, lane: 'notice', target: '/root/target', watcher },
      [2, 2, 'n1.t.1', '/root/watcher', terminatedEnvelope(1).body],
      { type: 'unwatch', reliable: 3, lane: 'notice', target: '/root/target', watcher },
    ]);
    expect([peer.unacknowledgedOn('notice'), peer.unacknowledgedOn('bulk')]).toEqual([3, 50]);
    // The reader catches up: the backlog follows, in its own order, behind the notices.
    await waitFor(() => {
      socket.catchUp();
      return socket.written.length >= 153;
    }, { what: 'the bulk backlog on the wire' });
    const lanesInOrder = socket.written.map(laneWritten);
    expect(lanesInOrder.slice(0, 3)).toEqual(['notice', 'notice', 'notice']);
    expect(lanesInOrder.slice(3).every((lane) => lane === 'bulk' || lane === 'atMostOnce')).toBe(true);
    expect(socket.written.slice(3).filter((frame) => laneWritten(frame) === 'bulk').map((frame) => (frame as unknown[])[1])).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
  });

  it('frees each lane by its own acks, and resends unacknowledged notices before bulk on reconnect', async () => {
    const { peer } = peerFor(settings);
    const first = new HandDrivenSocket();
    peer.attach(first.asFramed(), 1, false, () => {});
    for (let index = 1; index <= 5; index += 1) peer.sendStream({ type: 'envelope', envelope: bulkEnvelope(index) }, true);
    peer.sendStream({ type: 'envelope', envelope: terminatedEnvelope(1) }, false);
    peer.sendStream({ type: 'envelope', envelope: terminatedEnvelope(2) }, false);
    await waitFor(() => first.written.length >= 7, { what: 'everything on the first link' });
    first.handler!.frames([{ type: 'ack', upTo: 1, lane: 'notice' }, { type: 'ack', upTo: 2 }]);
    expect([peer.unacknowledgedOn('notice'), peer.unacknowledgedOn('bulk')]).toEqual([1, 3]);
    // An ack beyond what the notice lane ever sent is clamped to it, and frees nothing of bulk.
    first.handler!.frames([{ type: 'ack', upTo: 99, lane: 'notice' }]);
    expect([peer.unacknowledgedOn('notice'), peer.unacknowledgedOn('bulk')]).toEqual([0, 3]);
    peer.sendStream({ type: 'envelope', envelope: terminatedEnvelope(3) }, false);
    peer.detach();
    const second = new HandDrivenSocket();
    peer.attach(second.asFramed(), 1, false, () => {});
    await waitFor(() => second.written.length >= 4, { what: 'the resends on the second link' });
    expect(second.written.map((frame) => [laneWritten(frame), (frame as unknown[])[1]])).toEqual([['notice', 3], ['bulk', 3], ['bulk', 4], ['bulk', 5]]);
  });

  it('takes each inbound lane in order on its own: gaps dropped, stale copies re-acked, duplicates skipped, acks per lane', async () => {
    const { peer, delivered, clock } = peerFor(settings);
    const socket = new HandDrivenSocket();
    peer.attach(socket.asFramed(), 7, true, () => {});
    const notice = (rseq: number, id: string): unknown[] => [2, rseq, id, '/root/watcher', terminatedEnvelope(rseq).body];
    const bulk = (rseq: number): unknown[] => [1, rseq, `b${rseq}`, '/root/sink', { index: rseq }];
    socket.handler!.frames([
      notice(1, 't1'), bulk(1), notice(3, 't3'), notice(2, 't2'), bulk(3), notice(3, 't3'), bulk(2), notice(2, 't2'), notice(4, 't1'),
      { type: 'watch', reliable: 5, lane: 'notice', target: '/root/x', watcher: { node: 'n2', path: '/root/w' } }, bulk(3),
    ]);
    expect(delivered.map((frame) => (frame.type === 'envelope' ? frame.id : `${frame.type}:${frame.target}`))).toEqual(['t1', 'b1', 't2', 't3', 'b2', 'watch:/root/x', 'b3']);
    expect(delivered.map((frame) => frame.lane ?? 'bulk')).toEqual(['notice', 'bulk', 'notice', 'notice', 'bulk', 'notice', 'bulk']);
    expect(peer.counters).toMatchObject({ gaps: 2, duplicates: 2 });
    clock.advance(settings.ackDelayMs);
    await waitFor(() => socket.written.some((frame) => (frame as { type?: string; lane?: string }).type === 'ack' && (frame as { lane?: string }).lane === undefined),
      { what: 'the acks on the wire' });
    const acks = socket.written.filter((frame) => (frame as { type?: string }).type === 'ack');
    // The stale notice 2 was re-acked at once (up to 3, where the lane stood), then each lane's cumulative ack.
    expect(acks).toEqual([{ type: 'ack', upTo: 3, lane: 'notice' }, { type: 'ack', upTo: 5, lane: 'notice' }, { type: 'ack', upTo: 3 }]);
  });
});
