/**
 * The client side of a replica: KV requests proposed to the log and the clients waiting for them to
 * apply, linearizable reads waiting for ReadIndex and then for the state machine, operator requests,
 * membership changes waiting for their entry to commit, and the deadlines that turn a wait into a
 * TIMEOUT answer (outcome unknown, never "not applied").
 *
 * Waiting requests are bounded (`pendingRequestsMax`, BUSY beyond it). A client has one request
 * outstanding, so writes wait by client id; a newer sequence from the same client replaces (and
 * answers TIMEOUT to) an older one still waiting.
 */
import type { ActorContext, Ref } from '../../runtime/index.js';
import type { KvResult } from './core/kv-state-machine.js';
import type { RaftNode } from './core/node.js';
import type { Entry, MembershipChange, NodeId, ReadState, Refusal } from './core/types.js';
import { encodeKvRequest } from './kv-codec.js';
import type { AppliedEntry } from './kv-machine.js';
import {
  defaultReplicaPath,
  parseServiceRequest,
  type KvReadRequest,
  type KvRefusal,
  type KvReply,
  type KvWriteRequest,
  type MembershipChangeRequest,
  type MembershipReply,
  type PeerMetrics,
  type RaftMetrics,
} from './kv-service.js';
import type { RaftReplicaState } from './actor.js';

type Reply = (value: unknown) => void;

interface WriteWaiter {
  readonly sequence: number;
  readonly reply: Reply;
  readonly deadlineMs: number;
}

interface ReadWaiter {
  readonly command: KvReadRequest['command'];
  readonly reply: Reply;
  readonly deadlineMs: number;
  /** The index the read must see, once ReadIndex confirmed it. */
  index: number | null;
}

/** A membership change appended at a known index and term, waiting to commit. */
interface ChangeWaiter {
  readonly term: number;
  readonly change: MembershipChange;
  readonly reply: Reply;
  readonly deadlineMs: number;
}

const timeout: KvRefusal = { ok: false, code: 'TIMEOUT' };

/** The clients waiting at one replica. */
export class ReplicaRequests {
  readonly #requestTimeoutMs: number;
  readonly #pendingMax: number;
  readonly #writes = new Map<string, WriteWaiter>();
  readonly #reads = new Map<string, ReadWaiter>();
  /** Membership changes by the index of their entry. */
  readonly #changes = new Map<number, ChangeWaiter>();
  #readCounter = 0;
  #wasLeader = false;

  /** The replica's peers map (shared with it, so refs it learns are seen here). */
  readonly #peers: Readonly<Record<NodeId, Ref>>;

  constructor(options: { readonly requestTimeoutMs: number; readonly pendingRequestsMax: number; readonly peers: Readonly<Record<NodeId, Ref>> }) {
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#pendingMax = options.pendingRequestsMax;
    this.#peers = options.peers;
  }

  get pendingWrites(): number { return this.#writes.size; }
  get pendingReads(): number { return this.#reads.size; }
  get pendingChanges(): number { return this.#changes.size; }

  get #pending(): number { return this.#writes.size + this.#reads.size + this.#changes.size; }

  /** Handles a client or operator message; returns false when it is not one. */
  handle(state: RaftReplicaState, message: unknown, ctx: ActorContext<unknown>): boolean {
    const parsed = parseServiceRequest(message, state.machine.limits);
    if (parsed === null) return false;
    if (!parsed.ok) {
      ctx.reply({ ok: false, code: 'INVALID_REQUEST', reason: parsed.reason } satisfies KvRefusal);
      return true;
    }
    const request = parsed.request;
    switch (request.type) {
      case 'kv.request': this.#write(state, request, ctx); break;
      case 'kv.read': this.#read(state, request, ctx); break;
      case 'raft.status': ctx.reply(metricsOf(state.node, this)); break;
      case 'raft.digest': {
        const reply = ctx.replier();
        state.kv.run(() => state.machine.digest()).then((digest) => reply({ ok: true, ...digest }), (error: unknown) => reply({ ok: false, code: 'UNAVAILABLE', reason: String(error) }));
        break;
      }
      case 'raft.transferLeader': ctx.reply(state.node.transferLeadership(request.target)); break;
      case 'raft.changeMembership': this.#changeMembership(state, request, ctx); break;
    }
    return true;
  }

  #write(state: RaftReplicaState, request: KvWriteRequest, ctx: ActorContext<unknown>): void {
    const existing = this.#writes.get(request.clientId);
    if (existing === undefined && this.#pending >= this.#pendingMax) {
      ctx.reply({ ok: false, code: 'BUSY', reason: 'pendingRequests' } satisfies KvRefusal);
      return;
    }
    const result = state.node.propose(encodeKvRequest({ clientId: request.clientId, sequence: request.sequence, command: request.command }));
    if (!result.ok) {
      ctx.reply(refusal(state, result));
      return;
    }
    if (existing !== undefined && existing.sequence !== request.sequence) existing.reply(timeout);
    this.#writes.set(request.clientId, { sequence: request.sequence, reply: ctx.replier(), deadlineMs: ctx.clock.now() + (request.timeoutMs ?? this.#requestTimeoutMs) });
  }

  #read(state: RaftReplicaState, request: KvReadRequest, ctx: ActorContext<unknown>): void {
    if (this.#pending >= this.#pendingMax) {
      ctx.reply({ ok: false, code: 'BUSY', reason: 'pendingRequests' } satisfies KvRefusal);
      return;
    }
    this.#readCounter += 1;
    const context = `${state.options.id}/${state.incarnation}/${this.#readCounter}`;
    const result = state.node.readIndex(context);
    if (!result.ok) {
      ctx.reply(refusal(state, result));
      return;
    }
    this.#reads.set(context, { command: request.command, reply: ctx.replier(), deadlineMs: ctx.clock.now() + (request.timeoutMs ?? this.#requestTimeoutMs), index: null });
  }

  /**
   * Proposes a membership change through the core and waits for its entry to commit. An added node's
   * ref goes into the peers map once its entry is appended: the leader starts replicating to it at once.
   */
  #changeMembership(state: RaftReplicaState, request: MembershipChangeRequest, ctx: ActorContext<unknown>): void {
    if (this.#pending >= this.#pendingMax) {
      ctx.reply({ ok: false, code: 'BUSY', reason: 'pendingRequests' } satisfies KvRefusal);
      return;
    }
    const { change } = request;
    const result = state.node.proposeMembership(change);
    if (!result.ok) {
      ctx.reply(membershipRefusal(state, result));
      return;
    }
    // proposeMembership never forwards: only the leader appends a change.
    if (result.status !== 'appended') {
      ctx.reply(notLeader(state, result.leader));
      return;
    }
    if (change.type === 'addLearner') {
      state.peers[change.node] = request.peerRef ?? state.peers[change.node] ?? { node: change.node, path: defaultReplicaPath };
    }
    this.#changes.set(result.index, { term: result.term, change, reply: ctx.replier(), deadlineMs: ctx.clock.now() + (request.timeoutMs ?? this.#requestTimeoutMs) });
  }

  /** Answers the changes whose entries just committed (the entry at their index is the one appended, same term). */
  changesCommitted(entries: readonly Entry[], state: RaftReplicaState): void {
    if (this.#changes.size === 0) return;
    for (const entry of entries) {
      const waiter = this.#changes.get(entry.index);
      if (waiter === undefined) continue;
      this.#changes.delete(entry.index);
      // Another leader's entry took this index: the change was lost, which TIMEOUT (unknown) covers.
      if (entry.type !== 'membership' || entry.term !== waiter.term) waiter.reply(timeout);
      else waiter.reply({ ok: true, type: 'membership', change: waiter.change, index: entry.index, membership: state.node.status().membership } satisfies MembershipReply);
    }
  }

  /** Answers the clients whose requests just applied (a retry answered from the session included). */
  applied(entries: readonly AppliedEntry[]): void {
    for (const entry of entries) {
      if (entry.request === null || entry.applied === null) continue;
      const waiter = this.#writes.get(entry.request.clientId);
      if (waiter === undefined || waiter.sequence !== entry.request.sequence) continue;
      this.#writes.delete(entry.request.clientId);
      waiter.reply(entry.applied.result satisfies KvResult);
    }
  }

  /** ReadIndex confirmed these reads: each may be served once the state machine reaches its index. */
  readsConfirmed(states: readonly ReadState[]): void {
    for (const confirmed of states) {
      const waiter = this.#reads.get(confirmed.context);
      if (waiter !== undefined) waiter.index = confirmed.index;
    }
  }

  /** Serves every confirmed read whose index the state machine has reached; a failed read goes to `fail`. */
  serveReads(state: RaftReplicaState, fail: (error: unknown) => void): void {
    for (const [context, waiter] of this.#reads) {
      if (waiter.index === null || waiter.index > state.machine.appliedIndex) continue;
      this.#reads.delete(context);
      state.kv.run(() => state.machine.read(waiter.command)).then(
        (result) => waiter.reply(result),
        (error: unknown) => {
          waiter.reply(timeout);
          fail(error);
        },
      );
    }
  }

  /**
   * This replica is not (or no longer) the leader. Reads it was confirming will never be confirmed
   * here: they are refused NOT_LEADER (a read has no effect, so that is exact). Writes it appended
   * may or may not commit under the next leader: they are answered TIMEOUT, so their clients retry
   * with the same sequence number at once.
   */
  leadershipLost(leader: NodeId | null): void {
    if (!this.#wasLeader) return;
    this.#wasLeader = false;
    for (const [context, waiter] of this.#reads) {
      if (waiter.index !== null) continue;
      this.#reads.delete(context);
      waiter.reply({ ok: false, code: 'NOT_LEADER', leaderHint: leader, leaderRef: leader === null ? null : this.#peers[leader] ?? null } satisfies KvRefusal);
    }
    for (const waiter of this.#writes.values()) waiter.reply(timeout);
    this.#writes.clear();
    for (const waiter of this.#changes.values()) waiter.reply(timeout);
    this.#changes.clear();
  }

  /** Records that this replica leads (so that losing it later is noticed). */
  leading(): void {
    this.#wasLeader = true;
  }

  /** Answers TIMEOUT to every request past its deadline. */
  expire(nowMs: number): void {
    for (const [clientId, waiter] of this.#writes) {
      if (waiter.deadlineMs > nowMs) continue;
      this.#writes.delete(clientId);
      waiter.reply(timeout);
    }
    for (const [context, waiter] of this.#reads) {
      if (waiter.deadlineMs > nowMs) continue;
      this.#reads.delete(context);
      waiter.reply(timeout);
    }
    for (const [index, waiter] of this.#changes) {
      if (waiter.deadlineMs > nowMs) continue;
      this.#changes.delete(index);
      waiter.reply(timeout);
    }
  }

  /** The incarnation ends: every waiting client learns that its outcome is unknown. */
  failAll(): void {
    for (const waiter of this.#writes.values()) waiter.reply(timeout);
    for (const waiter of this.#reads.values()) waiter.reply(timeout);
    for (const waiter of this.#changes.values()) waiter.reply(timeout);
    this.#writes.clear();
    this.#reads.clear();
    this.#changes.clear();
  }
}

/** Maps a core refusal to the service's reply. */
function refusal(state: RaftReplicaState, result: Refusal): KvRefusal {
  switch (result.code) {
    case 'NOT_LEADER': return notLeader(state, result.leaderHint);
    case 'BUSY': return { ok: false, code: 'BUSY', reason: result.reason };
    case 'TOO_LARGE': return { ok: false, code: 'TOO_LARGE', bytes: result.bytes, bytesMax: result.bytesMax };
    default: return { ok: false, code: 'BUSY', reason: result.code };
  }
}

/** Maps a core refusal of a membership change: its own refusals pass through typed, the rest as for writes. */
function membershipRefusal(state: RaftReplicaState, result: Refusal): MembershipReply {
  switch (result.code) {
    case 'MEMBERSHIP_CHANGE_PENDING': return { ok: false, code: result.code };
    case 'LEARNER_NOT_CAUGHT_UP': return { ok: false, code: result.code, match: result.match, required: result.required };
    case 'INVALID_MEMBERSHIP_CHANGE': return { ok: false, code: result.code, reason: result.reason };
    default: return refusal(state, result);
  }
}

/** The refusal for a request this replica cannot take because it does not know the leader. */
export function notLeader(state: RaftReplicaState, leaderHint: NodeId | null): KvRefusal {
  return { ok: false, code: 'NOT_LEADER', leaderHint, leaderRef: leaderHint === null ? null : state.peers[leaderHint] ?? null };
}

/** The replica's Raft status as plain data. */
export function metricsOf(node: RaftNode, requests: ReplicaRequests): RaftMetrics {
  const status = node.status();
  const peers: Record<NodeId, PeerMetrics> = {};
  for (const [id, progress] of Object.entries(status.progress)) peers[id] = { match: progress.match, next: progress.next, state: progress.state };
  return {
    id: status.id, role: status.role, term: status.term, leader: status.leader, commit: status.commit, applied: status.applied,
    lastIndex: status.lastIndex, snapshotIndex: status.snapshotIndex, voters: status.membership.voters, learners: status.membership.learners, peers,
    pendingWrites: requests.pendingWrites, pendingReads: requests.pendingReads,
  };
}
