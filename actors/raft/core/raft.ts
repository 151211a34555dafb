/**
 * The Raft protocol state machine of one replica (Ongaro and Ousterhout, "In Search of an
 * Understandable Consensus Algorithm", and Ongaro's thesis), in the shape of etcd-io/raft: it performs
 * no I/O, keeps logical time through `tick()`, takes its randomness from the injected Rng, and queues
 * the messages it wants sent; `RaftNode` (node.ts) turns its state into Ready batches for the host.
 *
 * This file holds the replica's state, the role transitions and the dispatch of incoming messages;
 * election.ts, replication.ts and follower.ts hold the handlers. Invariants asserted along the way:
 * terms never decrease, a replica votes at most once per term, there is at most one leader per term
 * (a leader or follower that hears from a second leader of its term crashes loudly), and commit never
 * moves back (log.ts).
 */
import { assert } from '../../../runtime/errors.js';
import type { RaftConfig } from './config.js';
import { campaign, handleVoteRequest, handleVoteResponse } from './election.js';
import { handleAppend, handleHeartbeat, handleSnapshotChunk, type IncomingSnapshot } from './follower.js';
import { entryBytes, RaftLog } from './log.js';
import { invalidChangeReason, isVoter, members, MembershipHistory } from './membership.js';
import { Progress } from './progress.js';
import { hasQuorum } from './quorum.js';
import { ReadOnlyQueue } from './read-only.js';
import {
  broadcastAppend,
  broadcastCommit,
  broadcastHeartbeat,
  handleAppendResponse,
  handleHeartbeatResponse,
  handleSnapshotResponse,
  maybeCommit,
  sendAppend,
  tickSnapshotTransfers,
} from './replication.js';
import type {
  Entry,
  Membership,
  MembershipChange,
  Message,
  NodeId,
  PeerStatus,
  PersistedState,
  ProposeResult,
  RaftStatus,
  ReadIndexResult,
  ReadState,
  Role,
  Snapshot,
  TransferResult,
} from './types.js';

/** What a leader sends about its own log and leadership; none of it promises anything about its disk. */
const leaderMessageTypes: ReadonlySet<Message['type']> = new Set<Message['type']>([
  'raft.append', 'raft.heartbeat', 'raft.snapshot', 'raft.timeoutNow', 'raft.readIndexResponse',
]);

/** The protocol state of one replica. Fields are open to the handler modules; hosts use RaftNode. */
export class Raft {
  readonly config: RaftConfig;
  readonly id: NodeId;
  readonly log: RaftLog;
  readonly memberships: MembershipHistory;
  term: number;
  vote: NodeId | null;
  leader: NodeId | null = null;
  role: Role = 'follower';
  /** Replication progress of every other member; meaningful while leading. */
  readonly progress = new Map<NodeId, Progress>();
  /** Votes received in the current (pre-)campaign. */
  readonly votes = new Map<NodeId, boolean>();
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId | null = null;
  /** Bytes of this leader's own entries appended but not yet committed (proposal backpressure). */
  uncommittedBytes = 0;
  /** The newest complete snapshot this replica holds; what it streams to followers behind its log. */
  snapshot: Snapshot | null;
  incomingSnapshot: IncomingSnapshot | null = null;
  readonly readOnly = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its term (thesis 6.4 step 1). */
  pendingReads: Array<{ context: string; from: NodeId }> = [];
  /** Outbox, drained into each Ready: sent only once the Ready's writes are durable. */
  messages: Message[] = [];
  /**
   * The leader's own replication traffic, drained into each Ready as `leaderMessages`: the host may
   * send it while it persists (thesis 10.2.1). It promises nothing about this replica's disk (the
   * leader counts itself toward commit only through `stabilized`), unlike votes and acknowledgements.
   */
  leaderMessages: Message[] = [];
  /** ReadIndex requests queued since the last Ready; one heartbeat round confirms them all. */
  readsPending = false;
  readStates: ReadState[] = [];
  /** Proposals appended since the last broadcast; sent together when the host next asks for a Ready. */
  proposalsPending = false;

  constructor(config: RaftConfig, persisted: PersistedState | null) {
    this.config = config;
    this.id = config.id;
    const snapshot = persisted?.snapshot ?? null;
    const hardState = persisted?.hardState ?? { term: 0, vote: null, commit: 0 };
    const offsetIndex = snapshot?.meta.index ?? 0;
    const entries = (persisted?.entries ?? []).filter((entry) => entry.index > offsetIndex);
    this.log = new RaftLog({
      offsetIndex,
      offsetTerm: snapshot?.meta.term ?? 0,
      entries,
      committed: Math.max(hardState.commit, offsetIndex),
      applied: persisted?.appliedIndex ?? offsetIndex,
    });
    this.memberships = new MembershipHistory(snapshot?.meta.membership ?? config.initialMembership);
    this.memberships.appended(entries);
    this.snapshot = snapshot;
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.syncProgress();
    this.becomeFollower(this.term, null);
  }

  membership(): Membership {
    return this.memberships.current();
  }

  /** A voter without a snapshot still to persist may campaign; learners and removed replicas never do. */
  promotable(): boolean {
    return isVoter(this.membership(), this.id) && this.log.pendingSnapshot === null;
  }

  /** Queues a message; the host sends it after persisting the Ready that carries it (or before, for a leader's own traffic). */
  send(message: Message): void {
    assert(message.to !== this.id, 'a replica never messages itself', { type: message.type });
    if (this.role === 'leader' && leaderMessageTypes.has(message.type)) this.leaderMessages.push(message);
    else this.messages.push(message);
  }

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.role === 'leader') this.#tickLeader();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.electionElapsed += 1;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      campaign(this, this.config.preVote ? 'preVote' : 'vote');
    }
  }

  #tickLeader(): void {
    this.heartbeatElapsed += 1;
    this.electionElapsed += 1;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.#quorumActive()) {
        // Thesis 6.2: a leader cut off from a quorum steps down, so clients look for the real leader.
        this.becomeFollower(this.term, null);
        return;
      }
      // A transfer that has not finished within an election timeout is abandoned (thesis 3.10).
      this.leadTransferee = null;
    }
    tickSnapshotTransfers(this);
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      broadcastHeartbeat(this, this.readOnly.lastContext());
    }
  }

  #quorumActive(): boolean {
    const active = hasQuorum(this.membership().voters, (voter) => voter === this.id || this.progress.get(voter)?.recentActive === true);
    for (const progress of this.progress.values()) progress.recentActive = false;
    return active;
  }

  /** Feeds one message from a peer into the protocol. */
  step(message: Message): void {
    assert(message.to === this.id, 'message delivered to the wrong replica', { to: message.to, id: this.id });
    if (message.type === 'raft.propose') return this.#receiveForwardedProposal(message.data);
    if (message.type === 'raft.readIndex') return this.#receiveForwardedRead(message.context, message.from);
    if (message.term > this.term) {
      if (!this.#acceptHigherTerm(message)) return;
    } else if (message.term < this.term) {
      return this.#answerStaleTerm(message);
    }
    if (message.type === 'raft.preVote' || message.type === 'raft.vote') return handleVoteRequest(this, message);
    switch (this.role) {
      case 'leader': return this.#stepLeader(message);
      case 'candidate':
      case 'preCandidate': return this.#stepCandidate(message);
      case 'follower': return this.#stepFollower(message);
    }
  }

  /** Returns false when the message must be ignored; may move this replica to the message's term. */
  #acceptHigherTerm(message: Message): boolean {
    if (message.type === 'raft.preVote' || message.type === 'raft.vote') {
      // Thesis 4.2.3: while a replica hears from a leader it ignores campaigns, so a removed or
      // partitioned server cannot depose a healthy leader. Leader transfer overrides the lease.
      const transfer = message.type === 'raft.vote' && message.transfer;
      const inLease = this.config.checkQuorum && this.leader !== null && this.electionElapsed < this.config.electionTicks;
      if (inLease && !transfer) return false;
    }
    // A pre-vote request is for a future term and changes nothing; a granted pre-vote answer echoes
    // that future term, and the pre-candidate moves to it only once it wins the real election.
    if (message.type === 'raft.preVote') return true;
    if (message.type === 'raft.preVoteResponse' && !message.reject) return true;
    const fromLeader = message.type === 'raft.append' || message.type === 'raft.heartbeat' || message.type === 'raft.snapshot';
    this.becomeFollower(message.term, fromLeader ? message.from : null);
    return true;
  }

  #answerStaleTerm(message: Message): void {
    const header = { from: this.id, to: message.from, term: this.term };
    const fromLeader = message.type === 'raft.append' || message.type === 'raft.heartbeat' || message.type === 'raft.snapshot';
    if (fromLeader && (this.config.checkQuorum || this.config.preVote)) {
      // A stale leader would otherwise never learn of the newer term: with pre-vote and leases this
      // replica's higher term reaches it through no other message.
      this.send({ ...header, type: 'raft.appendResponse', reject: true, index: 0, hintIndex: 0, hintTerm: 0 });
    } else if (message.type === 'raft.preVote') {
      this.send({ ...header, type: 'raft.preVoteResponse', reject: true });
    }
  }

  #stepLeader(message: Message): void {
    switch (message.type) {
      case 'raft.appendResponse': return handleAppendResponse(this, message);
      case 'raft.heartbeatResponse': return handleHeartbeatResponse(this, message);
      case 'raft.snapshotResponse': return handleSnapshotResponse(this, message);
      case 'raft.append':
      case 'raft.heartbeat':
      case 'raft.snapshot':
        assert(false, 'election safety: two leaders in one term', { term: this.term, self: this.id, other: message.from });
        return;
      default: return;
    }
  }

  #stepCandidate(message: Message): void {
    switch (message.type) {
      case 'raft.append':
      case 'raft.heartbeat':
      case 'raft.snapshot':
        // Paper 5.2: a candidate that hears from a leader of its term returns to follower.
        this.becomeFollower(message.term, message.from);
        return this.#stepFollower(message);
      case 'raft.preVoteResponse':
        if (this.role === 'preCandidate') handleVoteResponse(this, message);
        return;
      case 'raft.voteResponse':
        if (this.role === 'candidate') handleVoteResponse(this, message);
        return;
      default: return;
    }
  }

  #stepFollower(message: Message): void {
    switch (message.type) {
      case 'raft.append':
      case 'raft.heartbeat':
      case 'raft.snapshot':
        assert(this.leader === null || this.leader === message.from, 'election safety: two leaders in one term', {
          term: this.term,
          known: this.leader,
          other: message.from,
        });
        this.electionElapsed = 0;
        this.leader = message.from;
        if (message.type === 'raft.append') return handleAppend(this, message);
        if (message.type === 'raft.heartbeat') return handleHeartbeat(this, message);
        return handleSnapshotChunk(this, message);
      case 'raft.timeoutNow':
        if (this.promotable()) campaign(this, 'transfer');
        return;
      case 'raft.readIndexResponse':
        this.readStates.push({ index: message.index, context: message.context });
        return;
      default: return;
    }
  }

  becomeFollower(term: number, leader: NodeId | null): void {
    assert(term >= this.term, 'terms never decrease', { term, current: this.term });
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = 'follower';
    this.#reset();
    this.leader = leader;
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not pre-campaign');
    this.role = 'preCandidate';
    this.leader = null;
    this.votes.clear();
    this.#randomizeElectionTimeout();
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not campaign');
    this.term += 1;
    this.vote = this.id;
    this.role = 'candidate';
    this.#reset();
  }

  /** Paper 5.2 and 8: a new leader appends an empty entry of its term, which commits its predecessors' entries. */
  becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader', { role: this.role });
    assert(this.vote === this.id, 'a leader voted for itself in its term');
    this.role = 'leader';
    this.#reset();
    this.leader = this.id;
    // The voters that just elected this leader were active within the last election timeout.
    for (const progress of this.progress.values()) progress.recentActive = true;
    const noop: Entry = { type: 'normal', term: this.term, index: this.log.lastIndex() + 1, data: new Uint8Array(0) };
    this.log.append([noop]);
    this.uncommittedBytes = entryBytes(noop);
  }

  #reset(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.#randomizeElectionTimeout();
    this.votes.clear();
    this.leader = null;
    this.leadTransferee = null;
    this.readOnly.clear();
    this.pendingReads = [];
    this.uncommittedBytes = 0;
    this.proposalsPending = false;
    this.readsPending = false;
    for (const progress of this.progress.values()) {
      progress.match = 0;
      progress.snapshot = null;
      progress.becomeProbe();
      progress.next = this.log.lastIndex() + 1;
    }
  }

  #randomizeElectionTimeout(): void {
    const ticks = this.config.electionTicks;
    this.randomizedElectionTimeout = ticks + this.config.rng.int(0, ticks - 1);
  }

  /** Keeps one Progress per other member, after any change of membership. */
  syncProgress(): void {
    const membership = this.membership();
    const current = new Set(members(membership));
    for (const id of [...this.progress.keys()]) if (!current.has(id)) this.progress.delete(id);
    if (this.leadTransferee !== null && !isVoter(membership, this.leadTransferee)) this.leadTransferee = null;
    for (const id of current) {
      if (id === this.id) continue;
      const learner = !isVoter(membership, id);
      const existing = this.progress.get(id);
      if (existing !== undefined) {
        existing.learner = learner;
        continue;
      }
      this.progress.set(id, new Progress({
        next: this.log.lastIndex() + 1,
        learner,
        inflightMessagesMax: this.config.maxInflightMessages,
        inflightBytesMax: this.config.maxInflightBytes,
      }));
    }
  }

  /** The follower's log was rewritten from `from` (0: only extended) and now ends with `entries`. */
  logRewritten(from: number, entries: readonly Entry[]): void {
    let changed = from !== 0 && this.memberships.truncatedAfter(from - 1);
    changed = this.memberships.appended(entries.filter((entry) => entry.index >= from)) || changed;
    if (changed) this.syncProgress();
  }

  /** Called when commit moved forward from `previous` while leading. */
  committed(previous: number): void {
    for (let index = previous + 1; index <= this.log.committed; index += 1) {
      const entry = this.log.entry(index);
      if (entry !== undefined && entry.term === this.term) this.uncommittedBytes -= entryBytes(entry);
    }
    assert(this.uncommittedBytes >= 0, 'uncommitted byte count went negative', { bytes: this.uncommittedBytes });
    if (this.pendingReads.length > 0 && this.log.term(this.log.committed) === this.term) {
      const waiting = this.pendingReads;
      this.pendingReads = [];
      for (const read of waiting) this.#leaderRead(read.context, read.from);
    }
    // Thesis 4.2.2: a leader removed from the membership steps down once the removal is committed.
    if (!isVoter(this.membership(), this.id) && this.memberships.latestIndex() <= this.log.committed) {
      this.becomeFollower(this.term, null);
    }
  }

  /** Appends an application command if this replica leads, forwards it to the leader, or refuses. */
  propose(data: Uint8Array): ProposeResult {
    const bytes = 24 + data.byteLength;
    if (bytes > this.config.maxEntryBytes) return { ok: false, code: 'TOO_LARGE', bytes, bytesMax: this.config.maxEntryBytes };
    if (this.role !== 'leader') {
      if (this.leader !== null && this.config.forwardProposals) {
        this.send({ type: 'raft.propose', from: this.id, to: this.leader, term: 0, data });
        return { ok: true, status: 'forwarded', leader: this.leader };
      }
      return { ok: false, code: 'NOT_LEADER', leaderHint: this.leader };
    }
    if (this.leadTransferee !== null) return { ok: false, code: 'BUSY', reason: 'leaderTransfer' };
    // Backpressure: a leader whose followers fall behind stops taking work rather than buffering it
    // without bound. A lone proposal larger than the cap still goes through when nothing is waiting.
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.config.maxUncommittedBytes) {
      return { ok: false, code: 'BUSY', reason: 'uncommittedBytes' };
    }
    const entry: Entry = { type: 'normal', term: this.term, index: this.log.lastIndex() + 1, data };
    this.log.append([entry]);
    this.uncommittedBytes += bytes;
    this.proposalsPending = true;
    return { ok: true, status: 'appended', index: entry.index, term: entry.term };
  }

  #receiveForwardedProposal(data: Uint8Array): void {
    // A forwarded proposal that meets a non-leader or a busy leader is dropped: the client's retry,
    // deduplicated by the state machine, is the recovery path.
    if (this.role !== 'leader' || !(data instanceof Uint8Array)) return;
    this.propose(data);
  }

  /** Appends a single-server membership change (thesis 4.1). Only the leader takes these. */
  proposeMembership(change: MembershipChange): ProposeResult {
    if (this.role !== 'leader') return { ok: false, code: 'NOT_LEADER', leaderHint: this.leader };
    if (this.leadTransferee !== null) return { ok: false, code: 'BUSY', reason: 'leaderTransfer' };
    const reason = invalidChangeReason(this.membership(), change);
    if (reason !== null) return { ok: false, code: 'INVALID_MEMBERSHIP_CHANGE', reason };
    // One change at a time, and only after an entry of this term commits (the single-server fix).
    if (this.memberships.latestIndex() > this.log.committed || this.log.term(this.log.committed) !== this.term) {
      return { ok: false, code: 'MEMBERSHIP_CHANGE_PENDING' };
    }
    if (change.type === 'promoteLearner') {
      const match = this.progress.get(change.node)?.match ?? 0;
      if (match < this.log.committed) return { ok: false, code: 'LEARNER_NOT_CAUGHT_UP', match, required: this.log.committed };
    }
    const entry: Entry = { type: 'membership', term: this.term, index: this.log.lastIndex() + 1, change };
    this.log.append([entry]);
    this.uncommittedBytes += entryBytes(entry);
    this.memberships.appended([entry]);
    this.syncProgress();
    this.proposalsPending = true;
    return { ok: true, status: 'appended', index: entry.index, term: entry.term };
  }

  /** Starts a linearizable read (thesis 6.4); its ReadState comes out in a later Ready. */
  readIndex(context: string): ReadIndexResult {
    if (this.role === 'leader') return this.#leaderRead(context, this.id);
    if (this.leader !== null && this.config.forwardProposals) {
      this.send({ type: 'raft.readIndex', from: this.id, to: this.leader, term: 0, context });
      return { ok: true, status: 'forwarded' };
    }
    return { ok: false, code: 'NOT_LEADER', leaderHint: this.leader };
  }

  #receiveForwardedRead(context: string, from: NodeId): void {
    if (this.role === 'leader' && typeof context === 'string') this.#leaderRead(context, from);
  }

  #leaderRead(context: string, from: NodeId): ReadIndexResult {
    if (this.readOnly.has(context) || this.pendingReads.some((read) => read.context === context)) return { ok: true, status: 'pending' };
    if (this.readOnly.size + this.pendingReads.length >= this.config.maxPendingReads) return { ok: false, code: 'BUSY', reason: 'pendingReads' };
    // Until this leader commits an entry of its term it does not know the latest commit index.
    if (this.log.term(this.log.committed) !== this.term) {
      this.pendingReads.push({ context, from });
      return { ok: true, status: 'pending' };
    }
    const voters = this.membership().voters;
    if (voters.length === 1 && voters[0] === this.id) {
      this.deliverRead({ context, index: this.log.committed, from });
      return { ok: true, status: 'pending' };
    }
    this.readOnly.add({ context, index: this.log.committed, from }, this.id);
    // Reads that arrive together share one heartbeat round, sent when the host next takes a Ready:
    // a quorum acknowledging the newest context confirms every earlier one (read-only.ts).
    this.readsPending = true;
    return { ok: true, status: 'pending' };
  }

  /** Hands a confirmed read to whoever asked: this replica's host, or the follower that forwarded it. */
  deliverRead(read: { context: string; index: number; from: NodeId }): void {
    if (read.from === this.id) this.readStates.push({ index: read.index, context: read.context });
    else this.send({ type: 'raft.readIndexResponse', from: this.id, to: read.from, term: this.term, context: read.context, index: read.index });
  }

  /** Hands leadership to `target` once its log is complete (thesis 3.10). */
  transferLeadership(target: NodeId): TransferResult {
    if (this.role !== 'leader') return { ok: false, code: 'NOT_LEADER', leaderHint: this.leader };
    if (target === this.id) return { ok: true };
    if (!isVoter(this.membership(), target)) return { ok: false, code: 'INVALID_MEMBERSHIP_CHANGE', reason: `${target} is not a voter` };
    this.leadTransferee = target;
    // The transfer must finish within one election timeout, counted from now.
    this.electionElapsed = 0;
    const progress = this.progress.get(target)!;
    if (progress.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else sendAppend(this, target, true);
    return { ok: true };
  }

  sendTimeoutNow(target: NodeId): void {
    this.send({ type: 'raft.timeoutNow', from: this.id, to: target, term: this.term });
  }

  /**
   * Sends the proposals appended since the last call as batched, pipelined AppendEntries, and one
   * heartbeat round for the reads queued since then, carrying the newest read's context.
   */
  flushProposals(): void {
    if (this.readsPending) {
      this.readsPending = false;
      const context = this.readOnly.lastContext();
      if (this.role === 'leader' && context !== null) broadcastHeartbeat(this, context);
    }
    if (!this.proposalsPending) return;
    this.proposalsPending = false;
    if (this.role !== 'leader') return;
    broadcastAppend(this, false);
  }

  /** The host made entries durable: a leader counts its own log toward commit only from now on. */
  stabilized(): void {
    if (this.role !== 'leader') return;
    if (maybeCommit(this) && this.role === 'leader') broadcastCommit(this);
  }

  /** The host snapshotted the state machine at `index` (already durable): compacts the log behind it. */
  compact(index: number, data: Uint8Array): void {
    assert(index > (this.snapshot?.meta.index ?? 0), 'snapshot is not newer than the current one', { index });
    assert(index <= this.log.applied, 'snapshot of entries not yet applied', { index, applied: this.log.applied });
    const term = this.log.term(index);
    assert(term !== undefined, 'snapshot index already compacted', { index });
    this.snapshot = { meta: { index, term, membership: this.memberships.at(index) }, data };
    const compactTo = Math.max(this.log.offsetIndex, index - this.config.compactionRetainEntries);
    this.log.compact(compactTo);
    this.memberships.compactedTo(compactTo);
  }

  status(): RaftStatus {
    const progress: Record<NodeId, PeerStatus> = {};
    if (this.role === 'leader') {
      for (const [id, peer] of this.progress) {
        progress[id] = {
          match: peer.match,
          next: peer.next,
          state: peer.state,
          learner: peer.learner,
          recentActive: peer.recentActive,
          inflightMessages: peer.inflights.count,
          inflightBytes: peer.inflights.bytes,
        };
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      leaderContact: this.role === 'leader' || (this.leader !== null && this.electionElapsed < this.config.electionTicks),
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      stableIndex: this.log.stableIndex,
      snapshotIndex: this.snapshot?.meta.index ?? 0,
      membership: this.membership(),
      leadTransferee: this.leadTransferee,
      progress,
    };
  }
}
