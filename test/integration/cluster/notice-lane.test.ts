/**
 * Death-watch notices never queue behind bulk data (real sockets): a node whose bulk lane toward a
 * peer is saturated (thousands of at-least-once tells that the peer neither reads nor acknowledges,
 * so they pile up behind the socket's high-water mark and fill the bulk outbox) still sends that peer
 * every `terminated` notice and every `watch` on the notice lane, ahead of the backlog and in order,
 * and refuses no watch for the full bulk outbox. The peer is a hand-driven one (test/support/
 * cluster-raw-peer.ts) that authenticates as `n2`, stops reading, registers watches of actors that
 * do not exist (each answered at once with a `terminated` notice), and reads again; where each notice
 * arrived in the stream is checked by position, never by time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClusterNode, demoChildren, type ClusterNode } from '../../../cluster/index.js';
import type { Terminated } from '../../../runtime/index.js';
import { RawPeer } from '../../support/cluster-raw-peer.js';
import { waitFor } from '../../support/wait.js';

const secret = 'notice-lane-secret';
/** Bulk outbox bound of the node under test: the backlog fills it. */
const outboxMax = 2_000;
/** Each bulk tell carries this much, so the backlog is far larger than any socket buffer on the way. */
const padding = 'x'.repeat(16 * 1024);
const notices = 5;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The reliable lane of a stream frame the raw peer received ('bulk' | 'notice'), or undefined for anything else. */
function laneOf(frame: unknown): 'bulk' | 'notice' | undefined {
  if (Array.isArray(frame)) return frame[0] === 1 ? 'bulk' : frame[0] === 2 ? 'notice' : undefined;
  const fields = frame as { type?: string; reliable?: number; lane?: string };
  if ((fields.type === 'watch' || fields.type === 'unwatch') && fields.reliable !== undefined) return fields.lane === 'notice' ? 'notice' : 'bulk';
  return undefined;
}

describe('the notice lane', () => {
  it('delivers terminated notices and watches ahead of a saturated bulk lane, in order, and refuses no watch', async () => {
    const node: ClusterNode = await createClusterNode({
      name: 'n1', listen: '127.0.0.1:0', secret, tokens: ['notice-lane-token'],
      // The raw peer sends no heartbeats and no acks: a patient detector and idle timer keep it a member
      // throughout, and redelivery waits past the test, so each frame is on the wire once and positions count.
      settings: { outboxMax, linkIdleMs: 600_000, detector: { acceptablePauseMs: 600_000 }, redeliverMsMin: 600_000, redeliverMsMax: 600_000 },
      children: (cluster) => demoChildren(cluster),
    });
    cleanups.push(() => node.stop());
    const peer = await RawPeer.authenticated(`ws://127.0.0.1:${node.port}`, 'n2', secret);
    cleanups.push(() => peer.close());
    await waitFor(() => node.members().some((member) => member.node === 'n2' && member.status !== 'down'), { what: 'n2 a member' });
    const socket = (peer.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();

    // Saturate the bulk lane: every tell is taken until the outbox is full, and none is acknowledged.
    for (let index = 1; index <= outboxMax; index += 1) {
      expect(node.sendReliable({ node: 'n2', path: '/root/sink' }, { type: 'item', index, padding })).toMatchObject({ ok: true });
    }
    expect(node.sendReliable({ node: 'n2', path: '/root/sink' }, { type: 'item', index: outboxMax + 1 })).toEqual({ ok: false, code: 'OUTBOX_FULL' });
    const stats = (): { queuedFrames: number; unacknowledged: number } => node.stats().peers.find((entry) => entry.node === 'n2')!;

    // A watch from n1 still goes (the full bulk outbox once refused it, and the watcher heard a false `terminated`).
    const watcher = { node: 'n1', path: '/root/demo/watcher' };
    expect(await node.system.ask(watcher, { type: 'watch', target: { node: 'n2', path: '/root/remote-target' } })).toEqual({ ok: true });
    // n2 watches actors of n1 that do not exist: each watch is answered at once with a terminated notice.
    peer.sendFrames(Array.from({ length: notices }, (_, index) => ({
      type: 'watch', reliable: index + 1, lane: 'notice', target: `/root/nobody-${index + 1}`, watcher: { node: 'n2', path: '/root/w' },
    })));
    await waitFor(() => stats().unacknowledged >= outboxMax + notices + 1, { what: 'the notices queued on n1' });
    // Every bulk frame still queued now was queued before the notices, and is written after them (the
    // count also holds the notices themselves while they wait for the next flush).
    const backlog = stats().queuedFrames - (notices + 1);
    expect(backlog).toBeGreaterThan(outboxMax / 4);

    // n2 reads again: everything arrives; the notices come before the backlog that was queued first.
    socket.resume();
    await waitFor(() => peer.frames.filter((frame) => laneOf(frame) === 'bulk').length >= outboxMax, { timeoutMs: 60_000, what: 'the whole bulk backlog at n2' });
    const lanes = peer.frames.map(laneOf);
    const noticeIndexes = lanes.flatMap((lane, index) => (lane === 'notice' ? [index] : []));
    const noticeFrames = noticeIndexes.map((index) => peer.frames[index]);
    expect(noticeFrames).toHaveLength(notices + 1);
    const watch = noticeFrames.find((frame) => !Array.isArray(frame));
    expect(watch).toMatchObject({ type: 'watch', lane: 'notice', target: '/root/remote-target', watcher });
    const terminated = noticeFrames.filter(Array.isArray) as unknown[][];
    // In order on their lane: consecutive numbers, and the notices for nobody-1 .. nobody-5 in that order.
    expect(noticeFrames.map((frame) => (Array.isArray(frame) ? frame[1] : (frame as { reliable: number }).reliable))).toEqual(Array.from({ length: notices + 1 }, (_, index) => index + 1));
    expect(terminated.map((frame) => (frame[4] as Terminated).ref.path)).toEqual(Array.from({ length: notices }, (_, index) => `/root/nobody-${index + 1}`));
    expect(terminated.every((frame) => (frame[4] as Terminated).reason === 'noProc' && frame[3] === '/root/w')).toBe(true);
    const bulkAfterNotices = lanes.slice(noticeIndexes.at(-1)! + 1).filter((lane) => lane === 'bulk').length;
    console.log(`notice lane: ${backlog} bulk frames still queued on n1 behind the notices; ${bulkAfterNotices} of ${outboxMax} arrived after the last notice`);
    expect(bulkAfterNotices).toBeGreaterThanOrEqual(backlog);
    // The bulk lane kept its own order, 1 to outboxMax.
    expect(peer.frames.filter((frame) => laneOf(frame) === 'bulk').map((frame) => (frame as unknown[])[1])).toEqual(Array.from({ length: outboxMax }, (_, index) => index + 1));
    // And the watcher on n1 heard nothing false about the remote target.
    expect(await node.system.ask<Terminated[]>(watcher, { type: 'report' })).toEqual([]);
  }, 120_000);
});
