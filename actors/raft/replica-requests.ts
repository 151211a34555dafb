/**
 * The client side of a replica host, as a shell over the pure request table (core/requests.ts): it
 * parses service requests, proposes writes and membership changes and starts ReadIndex reads through
 * the core, keeps each waiting request's reply channel under a token, and carries out the answers the
 * table decides (TIMEOUT, NOT_LEADER, results, serving confirmed reads). It makes no decision of its own
 * about who is answered what, or when.
 */
import type { Ref } from '../../runtime/index.js';
import type { KvAppliedResult } from './core/kv-state-machine.js';
import type { RaftNode } from './core/node.js';
import { RequestTable, type RequestAnswer, type RequestToken } from './core/requests.js';
import type { Entry, NodeId, ReadState, Refusal, Role } from './core/types.js';
import type { ReplicaHost } from './host.js';
import { encodeKvRequest } from './kv-codec.js';
import type { AppliedEntry } from './kv-machine.js';
import {
  defaultReplicaPath,
  parseServiceRequest,
  type KvLeaseKeepAliveReply,
  type KvReadRequest,
  type KvRefusal,
  type KvWatchRequest,
  type KvWriteRequest,
  type MembershipChangeRequest,
  type MembershipReply,
  type PeerMetrics,
  type RaftMetrics,
  watchRevisionsMax,
} from './kv-service.js';

/** Answers one request (the actor's replier, or the simulation's network). */
export type Reply = (value: unknown) => void;

type ReadCommand = KvReadRequest['command'];
type Answer = RequestAnswer<ReadCommand, KvAppliedResult>;

const timeout: KvRefusal = { ok: false, code: 'TIMEOUT' };
const busy: KvRefusal = { ok: false, code: 'BUSY', reason: 'pendingRequests' };

/** Options of the request shell. */
export interface ReplicaRequestsOptions {
  readonly id: NodeId;
  readonly nonce: string;
  readonly requestTimeoutMs: number;
  readonly pendingRequestsMax: number;
}

/** The clients waiting at one replica. */
export class ReplicaRequests {
  readonly #host: ReplicaHost;
  readonly #requestTimeoutMs: number;
  readonly #table: RequestTable<ReadCommand, KvAppliedResult>;
  readonly #replies = new Map<RequestToken, Reply>();
  #nextToken = 1;

  constructor(host: ReplicaHost, options: ReplicaRequestsOptions) {
    this.#host = host;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#table = new RequestTable({ id: options.id, nonce: options.nonce, pendingMax: options.pendingRequestsMax });
  }

  get pendingWrites(): number { return this.#table.pendingWrites; }
  get pendingReads(): number { return this.#table.pendingReads; }
  get pendingChanges(): number { return this.#table.pendingChanges; }

  /** Handles a client or operator message; returns false when it is not one. */
  handle(message: unknown, reply: Reply, nowMs: number): boolean {
    const host = this.#host;
    const parsed = parseServiceRequest(message, host.machine.limits);
    if (parsed === null) return false;
    if (!parsed.ok) {
      reply({ ok: false, code: 'INVALID_REQUEST', reason: parsed.reason } satisfies KvRefusal);
      return true;
    }
    const request = parsed.request;
    const deadlineMs = nowMs + ('timeoutMs' in request && request.timeoutMs !== undefined ? request.timeoutMs : this.#requestTimeoutMs);
    switch (request.type) {
      case 'kv.request': this.#write(request, reply, deadlineMs); break;
      case 'kv.read': this.#read(request, reply, deadlineMs); break;
      case 'kv.watch': this.#watch(request, reply); break;
      case 'kv.leaseKeepAlive': this.#keepAlive(request.lease, reply, nowMs); break;
      case 'raft.status': reply(metricsOf(host.node, this)); break;
      case 'raft.digest':
        host.runRead(() => host.machine.digest()).then((digest) => reply({ ok: true, ...digest }), (error: unknown) => reply({ ok: false, code: 'UNAVAILABLE', reason: String(error) }));
        break;
      case 'raft.transferLeader': reply(host.node.transferLeadership(request.target)); break;
      case 'raft.changeMembership': this.#changeMembership(request, reply, deadlineMs); break;
    }
    return true;
  }

  #token(reply: Reply): RequestToken {
    const token = this.#nextToken++;
    this.#replies.set(token, reply);
    return token;
  }

  #write(request: KvWriteRequest, reply: Reply, deadlineMs: number): void {
    if (!this.#table.admits(request.clientId)) return reply(busy);
    const result = this.#host.node.propose(encodeKvRequest({ clientId: request.clientId, sequence: request.sequence, command: request.command }));
    if (!result.ok) return reply(this.#refusal(result));
    this.#carryOut(this.#table.write({ clientId: request.clientId, sequence: request.sequence, token: this.#token(reply), deadlineMs }));
  }

  /**
   * A watch poll: served from this replica's applied event log, leader or not, but only while it is in
   * contact with a leader (etcd's require-leader watches): a replica cut off from the group, or one that
   * is not a member (never added, or removed), would answer "nothing new" forever, and the watcher could
   * not tell that from a quiet store. Refused UNAVAILABLE, the watcher moves to another replica.
   */
  #watch(request: KvWatchRequest, reply: Reply): void {
    const host = this.#host;
    if (!host.node.status().leaderContact) return reply({ ok: false, code: 'UNAVAILABLE', reason: 'this replica is not in contact with a leader' });
    const poll = { key: request.key, fromRevision: request.fromRevision, revisionsMax: request.revisionsMax ?? watchRevisionsMax, ...(request.rangeEnd === undefined ? {} : { rangeEnd: request.rangeEnd }) };
    host.runRead(() => host.machine.watch(poll)).then(reply, (error: unknown) => reply({ ok: false, code: 'UNAVAILABLE', reason: String(error) }));
  }

  /** A keep-alive renews the lease on the leader's clock; other replicas send the client on. */
  #keepAlive(lease: number, reply: Reply, nowMs: number): void {
    const status = this.#host.node.status();
    if (status.role !== 'leader') return reply(this.notLeader(status.leader));
    const ttlMs = this.#host.leases.keepAlive(lease, nowMs);
    reply((ttlMs === undefined ? { ok: false, code: 'LEASE_NOT_FOUND', message: `lease ${lease} does not exist` } : { ok: true, type: 'leaseKeepAlive', lease, ttlMs }) satisfies KvLeaseKeepAliveReply);
  }

  #read(request: KvReadRequest, reply: Reply, deadlineMs: number): void {
    if (!this.#table.admits()) return reply(busy);
    const readId = this.#table.nextReadId();
    const result = this.#host.node.readIndex(readId);
    if (!result.ok) return reply(this.#refusal(result));
    this.#table.read({ readId, command: request.command, token: this.#token(reply), deadlineMs });
  }

  /**
   * Proposes a membership change through the core and waits for its entry to commit. An added node's
   * ref goes into the peers map once its entry is appended: the leader starts replicating to it at once.
   */
  #changeMembership(request: MembershipChangeRequest, reply: Reply, deadlineMs: number): void {
    if (!this.#table.admits()) return reply(busy);
    const host = this.#host;
    const { change } = request;
    const result = host.node.proposeMembership(change);
    if (!result.ok) return reply(this.#membershipRefusal(result));
    // proposeMembership never forwards: only the leader appends a change.
    if (result.status !== 'appended') return reply(this.notLeader(result.leader));
    if (change.type === 'addLearner') {
      host.peers[change.node] = request.peerRef ?? host.peers[change.node] ?? { node: change.node, path: defaultReplicaPath };
    }
    this.#table.change({ index: result.index, term: result.term, change, token: this.#token(reply), deadlineMs });
  }

  /** The role and leader from the latest Ready's soft state. */
  softState(role: Role, leader: NodeId | null): void {
    this.#carryOut(this.#table.softState(role, leader));
  }

  /** Answers the clients whose requests just applied (a retry answered from the session included). */
  applied(entries: readonly AppliedEntry[]): void {
    this.#carryOut(this.#table.applied(entries.map((entry) => ({
      index: entry.index,
      clientId: entry.request?.clientId ?? null,
      sequence: entry.request?.sequence ?? 0,
      result: entry.applied?.result ?? null,
    }))));
  }

  /** Answers the membership changes whose entries just committed. */
  committed(entries: readonly Entry[]): void {
    this.#carryOut(this.#table.committed(entries));
  }

  /** ReadIndex confirmed these reads. */
  readsConfirmed(states: readonly ReadState[]): void {
    this.#table.readsConfirmed(states);
  }

  /** Serves every confirmed read whose index the state machine has reached. */
  serveReads(): void {
    this.#carryOut(this.#table.servable(this.#host.machine.appliedIndex));
  }

  /** Answers TIMEOUT to every request past its deadline. */
  expire(nowMs: number): void {
    this.#carryOut(this.#table.expire(nowMs));
  }

  /** This start of the replica ends: every waiting client learns that its outcome is unknown. */
  failAll(): void {
    this.#carryOut(this.#table.failAll());
  }

  #carryOut(answers: readonly Answer[]): void {
    for (const answer of answers) {
      const reply = this.#replies.get(answer.token);
      if (reply === undefined) continue;
      this.#replies.delete(answer.token);
      this.#answer(answer, reply);
    }
  }

  #answer(answer: Answer, reply: Reply): void {
    const host = this.#host;
    switch (answer.type) {
      case 'timeout': return reply(timeout);
      case 'notLeader': return reply(this.notLeader(answer.leader));
      case 'result': return reply(answer.result);
      case 'changeCommitted':
        return reply({ ok: true, type: 'membership', change: answer.change, index: answer.index, membership: host.node.status().membership } satisfies MembershipReply);
      case 'serveRead':
        // A failed read stops the replica (runRead); its client learns only that the outcome is unknown.
        host.runRead(() => host.machine.read({ command: answer.command })).then(reply, () => reply(timeout));
        return;
    }
  }

  /** Maps a core refusal to the service's reply. */
  #refusal(result: Refusal): KvRefusal {
    switch (result.code) {
      case 'NOT_LEADER': return this.notLeader(result.leaderHint);
      case 'BUSY': return { ok: false, code: 'BUSY', reason: result.reason };
      case 'TOO_LARGE': return { ok: false, code: 'TOO_LARGE', bytes: result.bytes, bytesMax: result.bytesMax };
      default: return { ok: false, code: 'BUSY', reason: result.code };
    }
  }

  /** Maps a core refusal of a membership change: its own refusals pass through typed, the rest as for writes. */
  #membershipRefusal(result: Refusal): MembershipReply {
    switch (result.code) {
      case 'MEMBERSHIP_CHANGE_PENDING': return { ok: false, code: result.code };
      case 'LEARNER_NOT_CAUGHT_UP': return { ok: false, code: result.code, match: result.match, required: result.required };
      case 'INVALID_MEMBERSHIP_CHANGE': return { ok: false, code: result.code, reason: result.reason };
      default: return this.#refusal(result);
    }
  }

  /** The refusal for a request this replica cannot take because it does not lead. */
  notLeader(leaderHint: NodeId | null): KvRefusal {
    const leaderRef: Ref | null = leaderHint === null ? null : this.#host.peers[leaderHint] ?? null;
    return { ok: false, code: 'NOT_LEADER', leaderHint, leaderRef };
  }
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
