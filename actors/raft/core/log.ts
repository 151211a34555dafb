/**
 * The replicated log as one replica holds it in memory (paper 5.3, 7): a compaction point (an index
 * whose term is still known, the prefix before it lives in a snapshot), the entries after it, and the
 * four watermarks the Ready/Advance contract moves:
 *
 *   offsetIndex <= applied <= applying <= committed <= lastIndex,   offsetIndex <= stableIndex <= lastIndex
 *
 * `stableIndex` is the last entry the host reported durable; entries after it are lost on a crash and
 * go out in the next Ready. Invariants asserted
 * here: entries are contiguous, commit never moves back, and a committed entry is never overwritten.
 */
import { assert } from '../../../runtime/errors.js';
import type { Entry, Snapshot } from './types.js';

/** Size of an entry for flow control: its payload plus a fixed allowance for index, term and framing. */
export function entryBytes(entry: Entry): number {
  return entry.type === 'normal' ? 24 + entry.data.byteLength : 64;
}

/** Where a log starts after a restart or a snapshot. */
export interface LogOrigin {
  readonly offsetIndex: number;
  readonly offsetTerm: number;
  readonly entries: readonly Entry[];
  readonly committed: number;
  readonly applied: number;
}

/** The in-memory log of one replica. */
export class RaftLog {
  #offsetIndex: number;
  #offsetTerm: number;
  #entries: Entry[];
  #committed: number;
  #applying: number;
  #applied: number;
  #stableIndex: number;
  /** A snapshot received from the leader that the host has not yet made durable. */
  pendingSnapshot: Snapshot | null = null;

  constructor(origin: LogOrigin) {
    this.#offsetIndex = origin.offsetIndex;
    this.#offsetTerm = origin.offsetTerm;
    this.#entries = [...origin.entries];
    this.#entries.forEach((entry, position) => {
      assert(entry.index === origin.offsetIndex + 1 + position, 'log entries must be contiguous after the offset', {
        expected: origin.offsetIndex + 1 + position,
        found: entry.index,
      });
    });
    this.#stableIndex = this.lastIndex();
    assert(origin.committed >= origin.offsetIndex && origin.committed <= this.lastIndex(), 'persisted commit index is outside the persisted log', {
      committed: origin.committed,
      offsetIndex: origin.offsetIndex,
      lastIndex: this.lastIndex(),
    });
    this.#committed = origin.committed;
    this.#applied = Math.min(Math.max(origin.applied, origin.offsetIndex), origin.committed);
    this.#applying = this.#applied;
  }

  get offsetIndex(): number { return this.#offsetIndex; }
  get committed(): number { return this.#committed; }
  get applied(): number { return this.#applied; }
  get applying(): number { return this.#applying; }
  get stableIndex(): number { return this.#stableIndex; }

  firstIndex(): number { return this.#offsetIndex + 1; }
  lastIndex(): number { return this.#offsetIndex + this.#entries.length; }
  lastTerm(): number { return this.#entries.length === 0 ? this.#offsetTerm : this.#entries[this.#entries.length - 1]!.term; }

  /** The term of the entry at `index`, or undefined when it is compacted away or not yet in the log. */
  term(index: number): number | undefined {
    if (index === this.#offsetIndex) return this.#offsetTerm;
    if (index < this.#offsetIndex || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#offsetIndex - 1]!.term;
  }

  /** The entry at `index`, or undefined when it is compacted away or not yet in the log. */
  entry(index: number): Entry | undefined {
    if (index <= this.#offsetIndex || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#offsetIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Paper 5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ownTerm = this.lastTerm();
    return lastTerm > ownTerm || (lastTerm === ownTerm && lastIndex >= this.lastIndex());
  }

  /** Leader-side append of new entries at the end of the log. */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, 'appended entries must extend the log', { index: entry.index, lastIndex: this.lastIndex() });
      assert(entry.term >= this.lastTerm(), 'terms in the log never decrease', { term: entry.term, lastTerm: this.lastTerm() });
      this.#entries.push(entry);
    }
  }

  /**
   * Follower-side AppendEntries (paper 5.3): when our entry at `prevIndex` has `prevTerm`, removes any
   * conflicting suffix, appends what is new, and advances commit. Returns the index of the last entry
   * the message vouches for and the index from which the log was rewritten (0 when nothing changed),
   * or null when the logs do not match at `prevIndex`.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: readonly Entry[]): { lastNewIndex: number; rewrittenFrom: number } | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNewIndex = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.#committed, 'log matching: an incoming entry conflicts with a committed entry', {
        conflict,
        committed: this.#committed,
      });
      this.#truncateAndAppend(entries.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(commit, lastNewIndex));
    return { lastNewIndex, rewrittenFrom: conflict };
  }

  /** Index of the first entry that is new or disagrees with ours on term; 0 when we hold them all. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index at or below `index` whose term is at most `term` (or the offset). A rejecting
   * follower and the leader both use it to skip a whole conflicting term in one round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    for (let candidate = Math.min(index, this.lastIndex()); candidate > this.#offsetIndex; candidate -= 1) {
      if (this.term(candidate)! <= term) return candidate;
    }
    return this.#offsetIndex;
  }

  /** Entries from `from` on, at most `countMax` of them and about `bytesMax` bytes, but at least one. */
  slice(from: number, countMax: number, bytesMax: number, to: number = this.lastIndex()): Entry[] {
    assert(from > this.#offsetIndex, 'slice reaches into the compacted prefix', { from, offsetIndex: this.#offsetIndex });
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = from; index <= to && result.length < countMax; index += 1) {
      const entry = this.entry(index)!;
      bytes += entryBytes(entry);
      if (result.length > 0 && bytes > bytesMax) break;
      result.push(entry);
    }
    return result;
  }

  /** Moves commit forward; it never moves back and never past the log. */
  commitTo(index: number): void {
    if (index <= this.#committed) return;
    assert(index <= this.lastIndex(), 'commit index beyond the log', { index, lastIndex: this.lastIndex() });
    this.#committed = index;
  }

  /** Entries the host must still make durable. */
  unstableEntries(): Entry[] {
    return this.#entries.slice(this.#stableIndex - this.#offsetIndex);
  }

  /** The host made entries up to `index` durable; ignored if a newer term has since replaced that entry. */
  stableTo(index: number, term: number): void {
    if (index > this.#stableIndex && this.matchTerm(index, term)) this.#stableIndex = index;
  }

  /** The host made the pending snapshot durable. */
  snapshotStable(index: number): void {
    if (this.pendingSnapshot !== null && this.pendingSnapshot.meta.index === index) this.pendingSnapshot = null;
  }

  /**
   * Committed entries not yet handed out for applying, about `bytesMax` bytes of them; marks them
   * applying. They may include entries that go out for persisting in the same Ready: the host makes
   * those durable before it applies anything.
   */
  takeCommittedEntries(bytesMax: number): Entry[] {
    const upTo = this.#committed;
    if (upTo <= this.#applying) return [];
    const entries = this.slice(this.#applying + 1, Number.MAX_SAFE_INTEGER, bytesMax, upTo);
    this.#applying = entries[entries.length - 1]!.index;
    return entries;
  }

  hasCommittedEntries(): boolean {
    return this.#committed > this.#applying;
  }

  /** The host applied everything up to `index`. */
  appliedTo(index: number): void {
    assert(index <= this.#applying, 'applied beyond what was handed out', { index, applying: this.#applying });
    if (index > this.#applied) this.#applied = index;
  }

  /** Drops entries up to `index`, which must already be applied and durable (log compaction, paper 7). */
  compact(index: number): void {
    if (index <= this.#offsetIndex) return;
    assert(index <= this.#applied && index <= this.#stableIndex, 'compacting entries that are not applied and durable', {
      index,
      applied: this.#applied,
      stableIndex: this.#stableIndex,
    });
    this.#offsetTerm = this.term(index)!;
    this.#entries = this.#entries.slice(index - this.#offsetIndex);
    this.#offsetIndex = index;
  }

  /** Replaces the whole log with a snapshot from the leader; the host persists and installs it next. */
  restore(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    assert(index > this.#committed, 'restoring a snapshot that is not ahead of commit', { index, committed: this.#committed });
    this.#offsetIndex = index;
    this.#offsetTerm = term;
    this.#entries = [];
    this.#committed = index;
    this.#stableIndex = index;
    this.#applying = index;
    this.#applied = index;
    this.pendingSnapshot = snapshot;
  }

  #truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    assert(first > this.#offsetIndex && first <= this.lastIndex() + 1, 'truncation point outside the log', { first });
    this.#entries.length = first - this.#offsetIndex - 1;
    if (this.#stableIndex >= first) this.#stableIndex = first - 1;
    this.append(entries);
  }
}
