/**
 * The Raft safety properties (paper Figure 3), checked across the whole simulated cluster after every
 * event. Each check is incremental, looking only at what the event changed, so it can run after
 * every step of thousands of runs:
 *
 * - election safety: at most one leader per term, over the whole run;
 * - log matching: an entry with a given index and term has the same content and the same preceding
 *   term on every replica that ever holds it (checked on every entry a replica writes; by induction
 *   this makes the logs identical up to that entry);
 * - leader completeness: a new leader holds every entry any replica has seen committed;
 * - state-machine safety: replicas apply the same entry at each index, snapshots at an index are
 *   identical, and no client request takes effect twice;
 * - commit monotonic: a replica's commit index never moves back while it runs, nor on its disk.
 */
import type { KvApplied, KvRequest } from '../../../actors/raft/core/kv-state-machine.js';
import type { Ready } from '../../../actors/raft/core/node.js';
import type { Entry, NodeId, Role, Snapshot } from '../../../actors/raft/core/types.js';
import type { SimReplica } from './replica.js';

/** A broken safety property. */
export class SafetyViolation extends Error {
  constructor(property: string, detail: string) {
    super(`${property}: ${detail}`);
    this.name = 'SafetyViolation';
  }
}

/** A content fingerprint of an entry, equal across replicas exactly when the entries are equal. */
export function fingerprint(entry: Entry): string {
  if (entry.type === 'membership') return `m:${entry.term}:${entry.change.type}:${entry.change.node}`;
  return `n:${entry.term}:${Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).toString('base64')}`;
}

interface Observed {
  role: Role;
  term: number;
  commit: number;
  durableCommit: number;
}

/** Cluster-wide invariant checker for one simulation run. */
export class InvariantChecker {
  readonly #leaders = new Map<number, NodeId>();
  /** index -> term -> { fingerprint, term of the entry before it } */
  readonly #entries = new Map<number, Map<number, { fingerprint: string; previousTerm: number | undefined }>>();
  readonly #committed = new Map<number, string>();
  #maxCommitted = 0;
  readonly #applied = new Map<number, string>();
  readonly #snapshots = new Map<number, string>();
  readonly #executed = new Map<string, number>();
  readonly #observed = new Map<NodeId, Observed>();
  elections = 0;

  /** A replica (re)started from its disk: in-memory watermarks restart from what is durable. */
  started(replica: SimReplica): void {
    const previous = this.#observed.get(replica.id);
    const durableCommit = replica.disk.durable.hardState.commit;
    if (previous !== undefined && durableCommit < previous.durableCommit) {
      throw new SafetyViolation('commit monotonic', `${replica.id} restarted with durable commit ${durableCommit} < ${previous.durableCommit}`);
    }
    const status = replica.node.status();
    this.#observed.set(replica.id, { role: status.role, term: status.term, commit: status.commit, durableCommit });
  }

  /** Runs the per-step checks for a replica an event touched. */
  afterEvent(replica: SimReplica): void {
    if (!replica.up) return;
    const status = replica.node.status();
    const observed = this.#observed.get(replica.id)!;
    if (status.term < observed.term) throw new SafetyViolation('term monotonic', `${replica.id} term ${status.term} < ${observed.term}`);
    if (status.commit < observed.commit) {
      throw new SafetyViolation('commit monotonic', `${replica.id} commit ${status.commit} < ${observed.commit}`);
    }
    if (status.commit > observed.commit) this.#recordCommitted(replica, observed.commit, status.commit);
    if (status.role === 'leader') {
      const leader = this.#leaders.get(status.term);
      if (leader !== undefined && leader !== replica.id) {
        throw new SafetyViolation('election safety', `term ${status.term} has leaders ${leader} and ${replica.id}`);
      }
      if (leader === undefined) {
        this.#leaders.set(status.term, replica.id);
        this.elections += 1;
        this.#checkLeaderCompleteness(replica);
      }
    }
    observed.role = status.role;
    observed.term = status.term;
    observed.commit = status.commit;
  }

  #recordCommitted(replica: SimReplica, from: number, to: number): void {
    for (let index = from + 1; index <= to; index += 1) {
      const entry = replica.node.entry(index);
      if (entry === undefined) continue; // covered by a snapshot; compared through snapshot contents
      const print = fingerprint(entry);
      const known = this.#committed.get(index);
      if (known !== undefined && known !== print) {
        throw new SafetyViolation('state-machine safety', `${replica.id} committed a different entry at ${index}`);
      }
      this.#committed.set(index, print);
    }
    if (to > this.#maxCommitted) this.#maxCommitted = to;
  }

  #checkLeaderCompleteness(replica: SimReplica): void {
    const { node } = replica;
    const lastIndex = node.status().lastIndex;
    for (let index = 1; index <= this.#maxCommitted; index += 1) {
      if (index > lastIndex) {
        throw new SafetyViolation('leader completeness', `leader ${replica.id} lacks committed index ${index} (last ${lastIndex})`);
      }
      const entry = node.entry(index);
      const known = this.#committed.get(index);
      if (entry === undefined || known === undefined) continue;
      if (fingerprint(entry) !== known) {
        throw new SafetyViolation('leader completeness', `leader ${replica.id} holds a different entry at committed index ${index}`);
      }
    }
  }

  /** Log matching, on every entry a replica is about to write. */
  readyTaken(replica: SimReplica, ready: Ready): void {
    for (const entry of ready.entries) {
      const previousTerm = replica.node.term(entry.index - 1);
      const print = fingerprint(entry);
      let byTerm = this.#entries.get(entry.index);
      if (byTerm === undefined) {
        byTerm = new Map();
        this.#entries.set(entry.index, byTerm);
      }
      const known = byTerm.get(entry.term);
      if (known === undefined) {
        byTerm.set(entry.term, { fingerprint: print, previousTerm });
        continue;
      }
      if (known.fingerprint !== print) {
        throw new SafetyViolation('log matching', `${replica.id} holds a different entry at index ${entry.index} term ${entry.term}`);
      }
      if (known.previousTerm !== undefined && previousTerm !== undefined && known.previousTerm !== previousTerm) {
        throw new SafetyViolation('log matching', `${replica.id}: entries at ${entry.index} term ${entry.term} follow different terms`);
      }
      if (known.previousTerm === undefined) known.previousTerm = previousTerm;
    }
  }

  /** The disk synced: its hard state's commit must not move back. */
  synced(replica: SimReplica): void {
    const observed = this.#observed.get(replica.id)!;
    const durableCommit = replica.disk.durable.hardState.commit;
    if (durableCommit < observed.durableCommit) {
      throw new SafetyViolation('commit monotonic', `${replica.id} durable commit ${durableCommit} < ${observed.durableCommit}`);
    }
    observed.durableCommit = durableCommit;
  }

  /** State-machine safety on every applied entry, and exactly-once execution of client requests. */
  applied(replica: SimReplica, entry: Entry, request: { request: KvRequest; outcome: KvApplied } | null): void {
    const print = fingerprint(entry);
    const known = this.#applied.get(entry.index);
    if (known !== undefined && known !== print) {
      throw new SafetyViolation('state-machine safety', `${replica.id} applied a different entry at ${entry.index}`);
    }
    this.#applied.set(entry.index, print);
    if (request === null || request.outcome.duplicate || !request.outcome.result.ok) return;
    const key = `${request.request.clientId}/${request.request.sequence}`;
    const executedAt = this.#executed.get(key);
    if (executedAt !== undefined && executedAt !== entry.index) {
      throw new SafetyViolation('exactly-once', `request ${key} took effect at ${executedAt} and again at ${entry.index} (${replica.id})`);
    }
    this.#executed.set(key, entry.index);
  }

  snapshotTaken(replica: SimReplica, snapshot: Snapshot): void {
    this.#compareSnapshot(replica, snapshot);
  }

  snapshotInstalled(replica: SimReplica, snapshot: Snapshot): void {
    this.#compareSnapshot(replica, snapshot);
  }

  #compareSnapshot(replica: SimReplica, snapshot: Snapshot): void {
    const print = Buffer.from(snapshot.data).toString('base64') + `@${snapshot.meta.term}`;
    const known = this.#snapshots.get(snapshot.meta.index);
    if (known !== undefined && known !== print) {
      throw new SafetyViolation('state-machine safety', `${replica.id} holds a different snapshot at ${snapshot.meta.index}`);
    }
    this.#snapshots.set(snapshot.meta.index, print);
  }

  get maxCommitted(): number { return this.#maxCommitted; }
  get snapshotCount(): number { return this.#snapshots.size; }
}
