/**
 * Watch streams in the host simulation. Two halves:
 *
 * - `WatchReference`: what each revision's events are. Every simulated replica reports the events of
 *   each revision it applies (read back through the production machine's own watch path); replicas
 *   must agree on them revision by revision (they apply the same entries, so they derive the same
 *   events), and the first report of a revision becomes the reference.
 * - `WatchStream`: one production watch (`RaftKvClient.watch`, which polls replicas, moves to another
 *   replica after a failure and resumes from the revision after the last one delivered), checked as
 *   its events arrive: revisions never go back, every event belongs to the watched range, a watch of
 *   every key sees consecutive revisions (every revision above the first changes a key, so a skipped
 *   revision is a lost event), and at the end each delivered revision holds exactly the reference's
 *   events for the range, none lost and none repeated.
 *
 * A watch that falls more than the kept history behind (a replica compacts as it writes) is refused
 * COMPACTED, the typed outcome; the stream then starts again after the compacted revision and counts
 * the restart, and the gap it leaves is the only one allowed.
 */
import { KvWatchError, type RaftKvClient } from '../../../actors/raft/client.js';
import { hex, inRange, type KvEvent } from '../../../actors/storage/index.js';

/** An event as comparable text: type, key, value and MVCC metadata. */
export function eventPrint(event: KvEvent): string {
  const { kv } = event;
  return `${event.type}:${hex(kv.key)}=${hex(kv.value)}@${kv.createRevision}/${kv.modRevision}/${kv.version}/${kv.lease ?? 0}`;
}

/** The events of every revision, as the replicas applied them. */
export class WatchReference {
  readonly #revisions = new Map<number, readonly KvEvent[]>();
  readonly #prints = new Map<number, string>();
  #revisionMax = 0;

  /** A replica applied `revision` with `events`; throws when another replica applied it differently. */
  record(node: string, revision: number, events: readonly KvEvent[]): void {
    const print = events.map(eventPrint).join('|');
    const known = this.#prints.get(revision);
    if (known === undefined) {
      this.#prints.set(revision, print);
      this.#revisions.set(revision, events);
      this.#revisionMax = Math.max(this.#revisionMax, revision);
    } else if (known !== print) {
      throw new Error(`watch safety: ${node} derived revision ${revision} as ${print}, another replica as ${known}`);
    }
  }

  /** The newest revision any replica applied. */
  get revisionMax(): number { return this.#revisionMax; }

  /** The newest revision with an event in the range (0: none). */
  lastRevisionIn(key: Uint8Array, rangeEnd: Uint8Array | undefined): number {
    let last = 0;
    for (const [revision, events] of this.#revisions) {
      if (revision > last && events.some((event) => inRange(event.kv.key, key, rangeEnd))) last = revision;
    }
    return last;
  }

  /** The events of `revision` in the range, or undefined when no replica reported that revision. */
  eventsOf(revision: number, key: Uint8Array, rangeEnd: Uint8Array | undefined): readonly KvEvent[] | undefined {
    return this.#revisions.get(revision)?.filter((event) => inRange(event.kv.key, key, rangeEnd));
  }
}

/** Totals of the watch checks over a run. */
export interface WatchTotals {
  events: number;
  restarts: number;
  /** Revisions checked event by event against the reference. */
  revisionsChecked: number;
}

/** One checked watch stream over (key, rangeEnd). */
export class WatchStream {
  readonly name: string;
  readonly #key: Uint8Array;
  readonly #rangeEnd: Uint8Array | undefined;
  /** Every key is in range: consecutive revisions are required. */
  readonly #everyKey: boolean;
  readonly #delivered = new Map<number, KvEvent[]>();
  /** Revisions below which a COMPACTED restart left a gap (checked from the restart on). */
  readonly #restartsAt: number[] = [];
  readonly #abort = new AbortController();
  #lastRevision = 0;
  #failure: Error | null = null;
  readonly totals: WatchTotals;

  constructor(options: { name: string; key: Uint8Array; rangeEnd?: Uint8Array; everyKey: boolean; totals: WatchTotals }) {
    this.name = options.name;
    this.#key = options.key;
    this.#rangeEnd = options.rangeEnd;
    this.#everyKey = options.everyKey;
    this.totals = options.totals;
  }

  /** The revision of the last event delivered (0: none yet). */
  get lastRevision(): number { return this.#lastRevision; }

  /** Whether this watch delivered the newest event of its range that the replicas applied. */
  caughtUp(reference: WatchReference): boolean {
    return this.#lastRevision >= reference.lastRevisionIn(this.#key, this.#rangeEnd);
  }

  /** The first violation seen while events arrived, if any. */
  get failure(): Error | null { return this.#failure; }

  stop(): void {
    this.#abort.abort();
  }

  /** Runs the watch through `client` from revision `fromRevision` until stopped; reports a violation through `fail`. */
  async run(client: RaftKvClient, fromRevision: number): Promise<void> {
    let from = fromRevision;
    while (!this.#abort.signal.aborted) {
      try {
        for await (const event of client.watch({ key: this.#key, ...(this.#rangeEnd === undefined ? {} : { rangeEnd: this.#rangeEnd }), fromRevision: from, idleMs: 5, signal: this.#abort.signal })) {
          this.#take(event);
        }
        return;
      } catch (error) {
        if (!(error instanceof KvWatchError)) throw error;
        // The typed refusal: start again after the compacted revision, and allow the gap it leaves.
                this.totals.restarts += 1;
        from = Math.max(from, error.compactRevision + 1);
        this.#restartsAt.push(from);
      }
    }
  }

  #take(event: KvEvent): void {
    if (this.#failure !== null) return;
    const revision = event.kv.modRevision;
    this.totals.events += 1;
    const restarted = this.#restartsAt.length > 0 && this.#restartsAt[this.#restartsAt.length - 1]! > this.#lastRevision;
    if (!inRange(event.kv.key, this.#key, this.#rangeEnd)) this.#fail(`an event of key ${hex(event.kv.key)}, outside the watched range`);
    else if (revision < this.#lastRevision) this.#fail(`revision ${revision} after revision ${this.#lastRevision}`);
    else if (this.#everyKey && this.#lastRevision !== 0 && !restarted && revision > this.#lastRevision + 1) {
      this.#fail(`revisions ${this.#lastRevision + 1}-${revision - 1} skipped`);
    }
    const group = this.#delivered.get(revision) ?? [];
    group.push(event);
    this.#delivered.set(revision, group);
    this.#lastRevision = revision;
  }

  #fail(reason: string): void {
    this.#failure ??= new Error(`watch ${this.name}: ${reason}`);
  }

  /**
   * After the run: every delivered revision holds exactly the reference's events for the range, and
   * from the first revision delivered up to `throughRevision` no revision of the range was missed
   * (except behind a COMPACTED restart).
   */
  check(reference: WatchReference, throughRevision: number): void {
    if (this.#failure !== null) throw this.#failure;
    const first = Math.min(...this.#delivered.keys());
    if (!Number.isFinite(first)) return;
    for (let revision = first; revision <= throughRevision; revision += 1) {
      const expected = reference.eventsOf(revision, this.#key, this.#rangeEnd);
      const delivered = this.#delivered.get(revision) ?? [];
      if (expected === undefined) {
        if (delivered.length > 0) throw new Error(`watch ${this.name}: revision ${revision} delivered but no replica applied it`);
        continue;
      }
      const skippedByRestart = delivered.length === 0 && this.#restartsAt.some((restart) => revision < restart);
      if (skippedByRestart) continue;
      const want = expected.map(eventPrint).join('|');
      const got = delivered.map(eventPrint).join('|');
      if (want !== got) throw new Error(`watch ${this.name}: revision ${revision} delivered [${got}], the replicas applied [${want}]`);
      if (expected.length > 0) this.totals.revisionsChecked += 1;
    }
  }
}
