/**
 * Cluster membership as a pure state machine: who is in the cluster, at which incarnation and address,
 * and what this node currently believes about each of them.
 *
 * Two kinds of knowledge are kept apart, as in Akka (membership vs reachability):
 *  - what a member declares about itself (joining, up, leaving), spread by gossip; for one incarnation
 *    it only moves forward (joining < up < leaving), so gossip merges commute;
 *  - what this node observes (reachable, suspect, down), from its own phi-accrual detector fed by the
 *    member's heartbeats on the direct link (the cluster is a full mesh, like Erlang distribution).
 * The status a user sees combines both: removed > leaving > down > suspect > declared.
 *
 * Incarnations: a node that restarts with the same name comes back with a higher incarnation. Seeing
 * it (by link or gossip) removes the old incarnation, which fails everything addressed to it, and
 * tombstones keep gossip from resurrecting a removed incarnation.
 *
 * Invariants: one record per name; a record's incarnation never decreases; the table never exceeds
 * `membersMax`; `down` is only left by a heartbeat from the same incarnation; no verdict is given on
 * the first tick after this node's own stall (see 'tick').
 */
import type { DetectorSettings } from '../config.js';
import { assert } from '../../runtime/index.js';
import type { DeclaredStatus, GossipMember } from './frames.js';
import { createDetector, phi, recordHeartbeat, type DetectorState } from './phi.js';

/** What a user sees about a member. */
export type MemberStatus = 'joining' | 'up' | 'suspect' | 'down' | 'leaving' | 'removed';

/** One member as reported to users and subscribers. */
export interface MemberView {
  readonly node: string;
  readonly incarnation: number;
  readonly address: string;
  readonly status: MemberStatus;
  readonly self: boolean;
  /** When the status last changed, on this node's clock. */
  readonly sinceMs: number;
}

/** A change of a member's status, delivered to membership subscribers. */
export interface MembershipEvent {
  readonly type: 'member';
  readonly member: MemberView;
  readonly previous: MemberStatus | undefined;
}

type Reachability = 'unknown' | 'reachable' | 'suspect' | 'down';

interface MemberRecord {
  readonly node: string;
  readonly incarnation: number;
  address: string;
  declared: DeclaredStatus;
  reachability: Reachability;
  connected: boolean;
  detector: DetectorState;
  status: MemberStatus;
  sinceMs: number;
  downSinceMs: number | undefined;
}

/** Parameters of the membership core. */
export interface MembershipSettings {
  readonly heartbeatIntervalMs: number;
  readonly detector: DetectorSettings;
  readonly removeAfterDownMs: number;
  readonly membersMax: number;
}

/** The membership state of one node. */
export interface MembershipState {
  readonly self: { readonly node: string; readonly incarnation: number; readonly address: string; declared: DeclaredStatus; sinceMs: number };
  readonly members: Map<string, MemberRecord>;
  /** Highest removed incarnation per name. */
  readonly tombstones: Map<string, number>;
  readonly settings: MembershipSettings;
  /** When the last tick came (undefined: none yet), to tell this node's own stalls from silent peers. */
  lastTickMs: number | undefined;
}

/** Inputs of the membership core. */
export type MembershipInput =
  | { readonly type: 'linkUp'; readonly node: string; readonly incarnation: number; readonly address: string; readonly nowMs: number }
  | { readonly type: 'linkDown'; readonly node: string; readonly incarnation: number; readonly nowMs: number }
  | { readonly type: 'heartbeat'; readonly node: string; readonly incarnation: number; readonly nowMs: number }
  | { readonly type: 'gossip'; readonly from: string; readonly members: readonly GossipMember[]; readonly nowMs: number }
  | { readonly type: 'tick'; readonly nowMs: number }
  | { readonly type: 'leave'; readonly nowMs: number };

/** Effects for the shell to carry out. */
export type MembershipEffect =
  | { readonly type: 'event'; readonly event: MembershipEvent }
  /** Fail what waits on this incarnation (asks, watches) and drop its at-most-once queue. */
  | { readonly type: 'nodeDown'; readonly node: string; readonly incarnation: number }
  /** Forget this incarnation entirely (including its reliable outbox) and stop dialling it. */
  | { readonly type: 'removed'; readonly node: string; readonly incarnation: number }
  /** Keep a link to this member (dial it when there is none). */
  | { readonly type: 'dial'; readonly node: string; readonly address: string }
  /** Send the membership table to one member, or to all. */
  | { readonly type: 'gossip'; readonly to: string | 'all' };

/** Starts membership for this node. A founder (no other seeds) is up at once; others join through a seed. */
export function createMembership(
  self: { node: string; incarnation: number; address: string }, founder: boolean, settings: MembershipSettings, nowMs: number,
): MembershipState {
  return { self: { ...self, declared: founder ? 'up' : 'joining', sinceMs: nowMs }, members: new Map(), tombstones: new Map(), settings, lastTickMs: undefined };
}

/** Feeds one input to the membership core. */
export function membershipStep(state: MembershipState, input: MembershipInput): MembershipEffect[] {
  const effects: MembershipEffect[] = [];
  switch (input.type) {
    case 'linkUp':
      linkUp(state, input, effects);
      break;
    case 'linkDown': {
      const member = state.members.get(input.node);
      if (member === undefined || member.incarnation !== input.incarnation) break;
      member.connected = false;
      if (member.declared === 'leaving') remove(state, member, input.nowMs, effects);
      break;
    }
    case 'heartbeat': {
      const member = state.members.get(input.node);
      if (member === undefined || member.incarnation !== input.incarnation) break;
      member.detector = recordHeartbeat(member.detector, input.nowMs, state.settings.detector);
      if (member.reachability !== 'reachable') {
        member.reachability = 'reachable';
        member.downSinceMs = undefined;
        refresh(state, member, input.nowMs, effects);
      }
      break;
    }
    case 'gossip':
      for (const entry of input.members) merge(state, input.from, entry, input.nowMs, effects);
      break;
    case 'tick': {
      // Ticks come every half heartbeat interval or sooner. A longer gap means this node itself was
      // stalled (a long synchronous task, a paused process): the heartbeats that arrived meanwhile are
      // still unread in its sockets, so judging now would blame the peers for its own pause, and a
      // `down` cannot be taken back within an incarnation. This tick only notes the time; the next
      // one, after the buffered heartbeats are read, judges.
      const stalled = state.lastTickMs !== undefined && input.nowMs - state.lastTickMs > state.settings.heartbeatIntervalMs;
      state.lastTickMs = input.nowMs;
      if (stalled) break;
      for (const member of [...state.members.values()]) judge(state, member, input.nowMs, effects);
      break;
    }
    case 'leave':
      if (state.self.declared !== 'leaving') {
        const previous = state.self.declared;
        state.self.declared = 'leaving';
        state.self.sinceMs = input.nowMs;
        effects.push({ type: 'event', event: { type: 'member', member: selfView(state), previous } }, { type: 'gossip', to: 'all' });
      }
      break;
  }
  return effects;
}

function linkUp(state: MembershipState, input: Extract<MembershipInput, { type: 'linkUp' }>, effects: MembershipEffect[]): void {
  let member = state.members.get(input.node);
  if (member !== undefined && input.incarnation < member.incarnation) return;
  if (member === undefined || input.incarnation > member.incarnation) {
    if (member !== undefined) remove(state, member, input.nowMs, effects);
    // Direct, authenticated contact outranks a tombstone: the node is evidently alive.
    state.tombstones.delete(input.node);
    member = add(state, { name: input.node, incarnation: input.incarnation, address: input.address, status: 'joining' }, input.nowMs, effects);
    if (member === undefined) return;
  }
  member.connected = true;
  if (input.address !== '') member.address = input.address;
  member.detector = createDetector(input.nowMs, state.settings.heartbeatIntervalMs);
  member.reachability = 'reachable';
  member.downSinceMs = undefined;
  refresh(state, member, input.nowMs, effects);
  effects.push({ type: 'gossip', to: input.node });
}

function merge(state: MembershipState, from: string, entry: GossipMember, nowMs: number, effects: MembershipEffect[]): void {
  if (entry.name === state.self.node) return;
  if ((state.tombstones.get(entry.name) ?? 0) >= entry.incarnation) return;
  let member = state.members.get(entry.name);
  if (member !== undefined && entry.incarnation < member.incarnation) return;
  if (member === undefined || entry.incarnation > member.incarnation) {
    if (member !== undefined) remove(state, member, nowMs, effects);
    member = add(state, entry, nowMs, effects);
    if (member === undefined) return;
    if (member.address !== '') effects.push({ type: 'dial', node: member.node, address: member.address });
  } else {
    if (rank(entry.status) > rank(member.declared)) member.declared = entry.status;
    if (entry.address !== '' && (from === entry.name || member.address === '')) member.address = entry.address;
    refresh(state, member, nowMs, effects);
  }
  // A joining node has joined once a member that is itself up has gossiped with it.
  if (from === entry.name && entry.status === 'up' && state.self.declared === 'joining') {
    state.self.declared = 'up';
    state.self.sinceMs = nowMs;
    effects.push({ type: 'event', event: { type: 'member', member: selfView(state), previous: 'joining' } }, { type: 'gossip', to: 'all' });
  }
}

function add(state: MembershipState, entry: GossipMember, nowMs: number, effects: MembershipEffect[]): MemberRecord | undefined {
  if (state.members.size >= state.settings.membersMax) return undefined;
  const member: MemberRecord = {
    node: entry.name, incarnation: entry.incarnation, address: entry.address, declared: entry.status, reachability: 'unknown',
    connected: false, detector: createDetector(nowMs, state.settings.heartbeatIntervalMs), status: 'joining', sinceMs: nowMs, downSinceMs: undefined,
  };
  member.status = derive(member);
  state.members.set(member.node, member);
  effects.push({ type: 'event', event: { type: 'member', member: view(member), previous: undefined } });
  return member;
}

/** Applies the detector to one member. */
function judge(state: MembershipState, member: MemberRecord, nowMs: number, effects: MembershipEffect[]): void {
  const { suspectPhi, downPhi } = state.settings.detector;
  if (member.reachability === 'down') {
    if (member.downSinceMs !== undefined && nowMs - member.downSinceMs >= state.settings.removeAfterDownMs) remove(state, member, nowMs, effects);
    return;
  }
  const level = phi(member.detector, nowMs, state.settings.detector);
  if (level >= downPhi) {
    if (member.declared === 'leaving') {
      remove(state, member, nowMs, effects);
      return;
    }
    member.reachability = 'down';
    member.downSinceMs = nowMs;
    refresh(state, member, nowMs, effects);
    effects.push({ type: 'nodeDown', node: member.node, incarnation: member.incarnation });
  } else if (level >= suspectPhi && member.reachability !== 'suspect') {
    member.reachability = 'suspect';
    refresh(state, member, nowMs, effects);
  }
}

function remove(state: MembershipState, member: MemberRecord, nowMs: number, effects: MembershipEffect[]): void {
  assert(state.members.get(member.node) === member, 'removing the current record');
  const previous = member.status;
  state.members.delete(member.node);
  state.tombstones.set(member.node, Math.max(member.incarnation, state.tombstones.get(member.node) ?? 0));
  if (state.tombstones.size > state.settings.membersMax) {
    const oldest = state.tombstones.keys().next().value;
    if (oldest !== undefined) state.tombstones.delete(oldest);
  }
  if (member.reachability !== 'down') effects.push({ type: 'nodeDown', node: member.node, incarnation: member.incarnation });
  effects.push(
    { type: 'removed', node: member.node, incarnation: member.incarnation },
    { type: 'event', event: { type: 'member', member: { ...view(member), status: 'removed', sinceMs: nowMs }, previous } },
  );
}

function refresh(state: MembershipState, member: MemberRecord, nowMs: number, effects: MembershipEffect[]): void {
  const status = derive(member);
  if (status === member.status) return;
  const previous = member.status;
  member.status = status;
  member.sinceMs = nowMs;
  effects.push({ type: 'event', event: { type: 'member', member: view(member), previous } });
}

function derive(member: MemberRecord): MemberStatus {
  if (member.declared === 'leaving') return 'leaving';
  if (member.reachability === 'down') return 'down';
  if (member.reachability === 'suspect') return 'suspect';
  if (member.reachability === 'unknown') return 'joining';
  return member.declared;
}

function rank(status: DeclaredStatus): number {
  return status === 'joining' ? 0 : status === 'up' ? 1 : 2;
}

function view(member: MemberRecord): MemberView {
  return { node: member.node, incarnation: member.incarnation, address: member.address, status: member.status, self: false, sinceMs: member.sinceMs };
}

function selfView(state: MembershipState): MemberView {
  const self = state.self;
  return { node: self.node, incarnation: self.incarnation, address: self.address, status: self.declared, self: true, sinceMs: self.sinceMs };
}

/** Every member this node knows, itself first. */
export function membersOf(state: MembershipState): MemberView[] {
  return [selfView(state), ...[...state.members.values()].map(view)];
}

/** The current view of one member, if known. */
export function memberOf(state: MembershipState, node: string): MemberView | undefined {
  if (node === state.self.node) return selfView(state);
  const member = state.members.get(node);
  return member === undefined ? undefined : view(member);
}

/** The table to gossip: every member's own declaration, this node's first. */
export function gossipOf(state: MembershipState): GossipMember[] {
  const self = state.self;
  return [
    { name: self.node, incarnation: self.incarnation, address: self.address, status: self.declared },
    ...[...state.members.values()].map((member) => ({ name: member.node, incarnation: member.incarnation, address: member.address, status: member.declared })),
  ];
}
