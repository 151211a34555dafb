/**
 * The host's handle on a Raft replica, with etcd-io/raft's Ready/Advance contract (`rawnode.go`).
 *
 * The host feeds in `tick()`, peer messages (`step`) and client requests (`propose`, `readIndex` ...),
 * and whenever `hasReady()` it takes one `ready()` and, in this order:
 *   1. persists `snapshot` (if any), then appends `entries` to its log (an entry at index i replaces
 *      the stored entry at i and everything after it), then stores `hardState`, and syncs;
 *   2. installs `snapshot` into the state machine, then applies `committedEntries` in order;
 *   3. sends `messages` (they may promise what step 1 made durable: votes, acknowledgements);
 *      `leaderMessages` (a leader's AppendEntries, heartbeats, snapshot chunks ...) may go out at once,
 *      before and while step 1 runs: the leader writes its log in parallel with replicating it (Raft
 *      thesis 10.2.1). It counts its own log toward commit only for entries `advance()` reported
 *      durable, so commit still needs a quorum of durable copies. Followers' answers stay in `messages`;
 *      a Ready that changes the term or vote puts every message there;
 *   4. serves `readStates` once the state machine has applied their index;
 *   5. calls `advance()`; if `snapshotDue` was set, snapshots the state machine, calls `compact`, persists
 *      the snapshot it returns, and only then drops the log entries it covers from disk.
 * A crash anywhere before `advance()` loses nothing that was promised: nothing was sent before the sync.
 * The host may keep stepping messages between `ready()` and `advance()` (for a slow disk), but takes
 * the next Ready only after advancing the previous one.
 */
import { assert } from '../../../runtime/errors.js';
import { validateConfig, type RaftConfigInput } from './config.js';
import { Raft } from './raft.js';
import type {
  Entry,
  HardState,
  MembershipChange,
  Message,
  PersistedState,
  ProposeResult,
  RaftStatus,
  ReadIndexResult,
  ReadState,
  Role,
  Snapshot,
  TransferResult,
} from './types.js';

/** The volatile part of a replica's state its host reacts to (etcd's SoftState): its role and the leader it knows. */
export interface SoftState {
  readonly role: Role;
  readonly leader: string | null;
}

/** One batch of work for the host; see the module comment for the order in which to carry it out. */
export interface Ready {
  readonly role: Role;
  readonly leader: string | null;
  /** The role and leader when they changed since the last Ready (null: unchanged), so the host never polls `status()`. */
  readonly softState: SoftState | null;
  /** Term, vote and commit to store, or null when unchanged since the last Ready. */
  readonly hardState: HardState | null;
  /** Entries to append durably, in order; the first may overwrite a stored suffix. */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader to persist and install, replacing the whole stored log. */
  readonly snapshot: Snapshot | null;
  /** Entries to apply to the state machine, in order, after steps 1 and 2 of persisting. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send, only after this Ready's writes are durable. */
  readonly messages: readonly Message[];
  /** The leader's own traffic, which may be sent before this Ready's writes are durable (thesis 10.2.1). */
  readonly leaderMessages: readonly Message[];
  /** Linearizable reads released by ReadIndex. */
  readonly readStates: readonly ReadState[];
  /** When set, snapshot the state machine once it has applied this index, then call `compact`. */
  readonly snapshotDue: number | null;
}

interface Outstanding {
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  readonly snapshotIndex: number | null;
  readonly appliedTo: number | null;
}

/** A Raft replica behind the Ready/Advance contract. Pure: no I/O, no clock, no randomness of its own. */
export class RaftNode {
  readonly #raft: Raft;
  #persistedHardState: HardState;
  #outstanding: Outstanding | null = null;
  /** The soft state handed out last; a new replica starts as a follower that knows no leader. */
  #softState: SoftState = { role: 'follower', leader: null };

  /** Creates a replica from its configuration and what its disk holds (nothing for a new replica). */
  constructor(config: RaftConfigInput, persisted: PersistedState | null = null) {
    this.#raft = new Raft(validateConfig(config), persisted);
    this.#persistedHardState = persisted?.hardState ?? { term: 0, vote: null, commit: 0 };
  }

  get id(): string { return this.#raft.id; }

  /** Advances logical time by one tick (elections, heartbeats, check-quorum, transfer timeouts). */
  tick(): void { this.#raft.tick(); }

  /** Delivers a peer's message. The host validates its shape first; this trusts the types. */
  step(message: Message): void { this.#raft.step(message); }

  /** Proposes an application command (leader), forwards it (follower), or refuses with a typed reason. */
  propose(data: Uint8Array): ProposeResult { return this.#raft.propose(data); }

  /** Proposes a single-server membership change; only the leader accepts one. */
  proposeMembership(change: MembershipChange): ProposeResult { return this.#raft.proposeMembership(change); }

  /** Starts a linearizable read identified by `context` (unique per request); answered by a ReadState. */
  readIndex(context: string): ReadIndexResult { return this.#raft.readIndex(context); }

  /** Asks the leader to hand leadership to `target`. */
  transferLeadership(target: string): TransferResult { return this.#raft.transferLeadership(target); }

  status(): RaftStatus { return this.#raft.status(); }

  /** Whether `ready()` has anything to hand out. Proposals made since the last Ready are batched into AppendEntries here. */
  hasReady(): boolean {
    if (this.#outstanding !== null) return false;
    const raft = this.#raft;
    raft.flushProposals();
    return (
      raft.messages.length > 0 ||
      raft.leaderMessages.length > 0 ||
      raft.readStates.length > 0 ||
      this.#softStateChanged() ||
      raft.log.stableIndex < raft.log.lastIndex() ||
      raft.log.pendingSnapshot !== null ||
      raft.log.hasCommittedEntries() ||
      this.#hardStateChanged()
    );
  }

  /** Takes the next batch of work; `advance()` must follow before the next call. */
  ready(): Ready {
    assert(this.#outstanding === null, 'ready() called again before advance()');
    const raft = this.#raft;
    raft.flushProposals();
    const hardState = this.#hardStateChanged() ? this.#hardState() : null;
    if (hardState !== null) {
      assert(hardState.term >= this.#persistedHardState.term, 'persisted term moves back');
      assert(hardState.commit >= this.#persistedHardState.commit, 'persisted commit moves back', {
        commit: hardState.commit,
        persisted: this.#persistedHardState.commit,
      });
    }
    const snapshot = raft.log.pendingSnapshot;
    const entries = raft.log.unstableEntries();
    const committedEntries = raft.log.takeCommittedEntries(raft.config.maxBytesPerMessage);
    const appliedAfter = committedEntries.length > 0 ? committedEntries[committedEntries.length - 1]!.index : raft.log.applied;
    const snapshotIndex = raft.snapshot?.meta.index ?? 0;
    const softState = this.#softStateChanged() ? { role: raft.role, leader: raft.leader } : null;
    if (softState !== null) this.#softState = softState;
    // A new term or vote must be durable before anything is sent in it, the leader's traffic included.
    const voteChanged = hardState !== null && (hardState.term !== this.#persistedHardState.term || hardState.vote !== this.#persistedHardState.vote);
    const ready: Ready = {
      role: raft.role,
      leader: raft.leader,
      softState,
      hardState,
      entries,
      snapshot,
      committedEntries,
      messages: voteChanged ? [...raft.leaderMessages, ...raft.messages] : raft.messages,
      leaderMessages: voteChanged ? [] : raft.leaderMessages,
      readStates: raft.readStates,
      snapshotDue: appliedAfter - snapshotIndex >= raft.config.snapshotEntriesThreshold ? appliedAfter : null,
    };
    raft.messages = [];
    raft.leaderMessages = [];
    raft.readStates = [];
    this.#outstanding = {
      entries,
      hardState,
      snapshotIndex: snapshot?.meta.index ?? null,
      appliedTo: committedEntries.length > 0 ? appliedAfter : null,
    };
    return ready;
  }

  /** The host has carried out the last Ready: its writes are durable and its entries applied. */
  advance(): void {
    const outstanding = this.#outstanding;
    assert(outstanding !== null, 'advance() without a ready()');
    this.#outstanding = null;
    const log = this.#raft.log;
    if (outstanding.snapshotIndex !== null) log.snapshotStable(outstanding.snapshotIndex);
    // A step between ready() and advance() may have replaced part of these entries; only the prefix
    // still in the log counts as durable.
    for (let position = outstanding.entries.length - 1; position >= 0; position -= 1) {
      const entry = outstanding.entries[position]!;
      if (log.matchTerm(entry.index, entry.term)) {
        log.stableTo(entry.index, entry.term);
        break;
      }
    }
    if (outstanding.hardState !== null) this.#persistedHardState = outstanding.hardState;
    if (outstanding.appliedTo !== null) log.appliedTo(outstanding.appliedTo);
    this.#raft.stabilized();
  }

  /**
   * Records a snapshot of the state machine at `index` (at most the applied index) and compacts the
   * in-memory log behind it, keeping `compactionRetainEntries` entries for laggards. Returns the
   * snapshot with its metadata: the host persists it durably before it drops stored log entries.
   * Returns null, changing nothing, when a snapshot from the leader superseded it in the meantime.
   * It may be called while a Ready is outstanding (a host that snapshots in the background): it only
   * drops entries already applied, never the ones that Ready carries.
   */
  compact(index: number, data: Uint8Array): Snapshot | null {
    const raft = this.#raft;
    if (index <= (raft.snapshot?.meta.index ?? 0) || raft.log.term(index) === undefined) return null;
    raft.compact(index, data);
    return raft.snapshot;
  }

  /** The term of the log entry at `index`, or undefined when compacted away or beyond the log (inspection). */
  term(index: number): number | undefined {
    return this.#raft.log.term(index);
  }

  /** The log entry at `index`, or undefined when compacted away or beyond the log (inspection). */
  entry(index: number): Entry | undefined {
    return this.#raft.log.entry(index);
  }

  /** The snapshot this replica would stream to a lagging follower (null before the first one). */
  snapshot(): Snapshot | null {
    return this.#raft.snapshot;
  }

  #hardState(): HardState {
    return { term: this.#raft.term, vote: this.#raft.vote, commit: this.#raft.log.committed };
  }

  #softStateChanged(): boolean {
    return this.#softState.role !== this.#raft.role || this.#softState.leader !== this.#raft.leader;
  }

  #hardStateChanged(): boolean {
    const persisted = this.#persistedHardState;
    const raft = this.#raft;
    return persisted.term !== raft.term || persisted.vote !== raft.vote || persisted.commit !== raft.log.committed;
  }
}
