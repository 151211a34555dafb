/**
 * Membership as a pure state machine: joining through a seed, the detector's suspect and down
 * verdicts (and recovery on a heartbeat), incarnations (a restarted node replaces the old one, whose
 * gossip can no longer bring it back), graceful leave, removal after a long down, and the table bound.
 */
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../../cluster/config.js';
import { createMembership, gossipOf, memberOf, membershipStep, type MembershipEffect, type MembershipState } from '../../../cluster/core/membership.js';
import { timeToPhiMs } from '../../../cluster/core/phi.js';

const cluster = resolveSettings({ heartbeatIntervalMs: 100, removeAfterDownMs: 10_000, membersMax: 4, detector: { acceptablePauseMs: 0, stdDevMsMin: 20, suspectPhi: 3, downPhi: 8 } });
const settings = { heartbeatIntervalMs: cluster.heartbeatIntervalMs, detector: cluster.detector, removeAfterDownMs: cluster.removeAfterDownMs, membersMax: cluster.membersMax };
const self = { node: 'a', incarnation: 1, address: 'ws://a' };

const statuses = (effects: readonly MembershipEffect[]) => effects.flatMap((effect) => (effect.type === 'event' ? [`${effect.event.member.node}:${effect.event.member.status}`] : []));
const of = <Type extends MembershipEffect['type']>(effects: readonly MembershipEffect[], type: Type) => effects.filter((effect): effect is Extract<MembershipEffect, { type: Type }> => effect.type === type);

/** Heartbeats from `node` every interval from `fromMs` to `toMs`. */
function beat(state: MembershipState, node: string, incarnation: number, fromMs: number, toMs: number): void {
  for (let at = fromMs; at <= toMs; at += settings.heartbeatIntervalMs) membershipStep(state, { type: 'heartbeat', node, incarnation, nowMs: at });
}

describe('membership', () => {
  it('makes a founder up at once and a joining node up once an up member has gossiped with it', () => {
    expect(memberOf(createMembership(self, true, settings, 0), 'a')?.status).toBe('up');
    const state = createMembership(self, false, settings, 0);
    expect(memberOf(state, 'a')?.status).toBe('joining');
    const linked = membershipStep(state, { type: 'linkUp', node: 'b', incarnation: 5, address: 'ws://b', nowMs: 1 });
    expect(statuses(linked)).toEqual(['b:joining']);
    expect(of(linked, 'gossip')).toEqual([{ type: 'gossip', to: 'b' }]);
    const gossip = membershipStep(state, {
      type: 'gossip', from: 'b', nowMs: 2,
      members: [{ name: 'b', incarnation: 5, address: 'ws://b', status: 'up' }, { name: 'c', incarnation: 9, address: 'ws://c', status: 'up' }],
    });
    expect(statuses(gossip)).toEqual(['b:up', 'a:up', 'c:joining']);
    expect(of(gossip, 'dial')).toEqual([{ type: 'dial', node: 'c', address: 'ws://c' }]);
    expect(gossipOf(state)[0]).toEqual({ name: 'a', incarnation: 1, address: 'ws://a', status: 'up' });
  });

  it('suspects, then declares down a silent member at the detector bound, and takes it back on a heartbeat', () => {
    const state = createMembership(self, true, settings, 0);
    membershipStep(state, { type: 'linkUp', node: 'b', incarnation: 1, address: 'ws://b', nowMs: 0 });
    membershipStep(state, { type: 'gossip', from: 'b', nowMs: 0, members: [{ name: 'b', incarnation: 1, address: 'ws://b', status: 'up' }] });
    beat(state, 'b', 1, 100, 3_000);
    const downAtMs = 3_000 + timeToPhiMs(settings.detector.downPhi, settings.heartbeatIntervalMs, settings.detector);
    const seen: string[] = [];
    let down: MembershipEffect[] = [];
    for (let at = 3_010; at < downAtMs - 5; at += 10) {
      const effects = membershipStep(state, { type: 'tick', nowMs: at });
      seen.push(...statuses(effects));
      down.push(...of(effects, 'nodeDown'));
    }
    expect(seen).toEqual(['b:suspect']);
    expect(down).toEqual([]);
    down = membershipStep(state, { type: 'tick', nowMs: downAtMs + 5 });
    expect(statuses(down)).toEqual(['b:down']);
    expect(of(down, 'nodeDown')).toEqual([{ type: 'nodeDown', node: 'b', incarnation: 1 }]);
    expect(statuses(membershipStep(state, { type: 'heartbeat', node: 'b', incarnation: 1, nowMs: downAtMs + 50 }))).toEqual(['b:up']);
  });

  it('gives no verdict on the tick after its own stall: heartbeats buffered meanwhile are read first (and a silent peer is judged on the next tick)', () => {
    const state = createMembership(self, true, settings, 0);
    for (const node of ['b', 'c']) {
      membershipStep(state, { type: 'linkUp', node, incarnation: 1, address: `ws://${node}`, nowMs: 0 });
      beat(state, node, 1, 100, 3_000);
    }
    for (let at = 3_000; at <= 3_050; at += 50) expect(of(membershipStep(state, { type: 'tick', nowMs: at }), 'nodeDown')).toEqual([]);
    // This node stalls for 5 s. Its first tick after the stall runs before the sockets are read.
    expect(membershipStep(state, { type: 'tick', nowMs: 8_050 })).toEqual([]);
    // b's heartbeats, buffered during the stall, are read now; c sent none (it really is gone).
    beat(state, 'b', 1, 8_060, 8_060);
    const judged = membershipStep(state, { type: 'tick', nowMs: 8_100 });
    expect(of(judged, 'nodeDown')).toEqual([{ type: 'nodeDown', node: 'c', incarnation: 1 }]);
    expect(memberOf(state, 'b')?.status).not.toBe('down');
  });

  it('removes a member that stays down for removeAfterDownMs', () => {
    const state = createMembership(self, true, settings, 0);
    membershipStep(state, { type: 'linkUp', node: 'b', incarnation: 1, address: 'ws://b', nowMs: 0 });
    membershipStep(state, { type: 'tick', nowMs: 5_000 });
    expect(memberOf(state, 'b')?.status).toBe('down');
    // The first tick after a gap longer than a heartbeat interval is this node's own stall: no verdict.
    expect(membershipStep(state, { type: 'tick', nowMs: 5_000 + settings.removeAfterDownMs })).toEqual([]);
    const removed = membershipStep(state, { type: 'tick', nowMs: 5_010 + settings.removeAfterDownMs });
    expect(of(removed, 'removed')).toEqual([{ type: 'removed', node: 'b', incarnation: 1 }]);
    expect(memberOf(state, 'b')).toBeUndefined();
  });

  it('replaces a restarted node by its new incarnation, failing the old one, and ignores the old one in gossip', () => {
    const state = createMembership(self, true, settings, 0);
    membershipStep(state, { type: 'linkUp', node: 'b', incarnation: 1, address: 'ws://b', nowMs: 0 });
    const restarted = membershipStep(state, { type: 'linkUp', node: 'b', incarnation: 2, address: 'ws://b', nowMs: 10 });
    expect(of(restarted, 'nodeDown')).toEqual([{ type: 'nodeDown', node: 'b', incarnation: 1 }]);
    expect(of(restarted, 'removed')).toEqual([{ type: 'removed', node: 'b', incarnation: 1 }]);
    expect(memberOf(state, 'b')?.incarnation).toBe(2);
    // A third node still gossiping the old incarnation cannot bring it back.
    const stale = membershipStep(state, { type: 'gossip', from: 'c', nowMs: 20, members: [{ name: 'b', incarnation: 1, address: 'ws://b', status: 'up' }] });
    expect(stale).toEqual([]);
    expect(membershipStep(state, { type: 'linkUp', node: 'b', incarnation: 1, address: 'ws://b', nowMs: 30 })).toEqual([]);
    expect(memberOf(state, 'b')?.incarnation).toBe(2);
  });

  it('moves a leaving member to removed when its link closes, never to down', () => {
    const state = createMembership(self, true, settings, 0);
    membershipStep(state, { type: 'linkUp', node: 'b', incarnation: 1, address: 'ws://b', nowMs: 0 });
    const leaving = membershipStep(state, { type: 'gossip', from: 'b', nowMs: 1, members: [{ name: 'b', incarnation: 1, address: 'ws://b', status: 'leaving' }] });
    expect(statuses(leaving)).toEqual(['b:leaving']);
    const gone = membershipStep(state, { type: 'linkDown', node: 'b', incarnation: 1, nowMs: 2 });
    expect(statuses(gone)).toEqual(['b:removed']);
  });

  it('announces its own leave with gossip to everyone', () => {
    const state = createMembership(self, true, settings, 0);
    const effects = membershipStep(state, { type: 'leave', nowMs: 1 });
    expect(statuses(effects)).toEqual(['a:leaving']);
    expect(of(effects, 'gossip')).toEqual([{ type: 'gossip', to: 'all' }]);
  });

  it('never holds more than membersMax members', () => {
    const state = createMembership(self, true, settings, 0);
    const members = ['b', 'c', 'd', 'e', 'f', 'g'].map((name) => ({ name, incarnation: 1, address: `ws://${name}`, status: 'up' as const }));
    membershipStep(state, { type: 'gossip', from: 'b', nowMs: 1, members });
    expect(state.members.size).toBe(settings.membersMax);
  });
});
