/**
 * Watches over the replicated key-value store, served from any replica's applied event log.
 *
 * Every replica derives the same events, in the same revisions, from the entries it applies (the
 * storage model writes them with each change), so any replica can serve a watch: a watcher asks for
 * the events from `fromRevision` on and gets, in revision order, every event of the revisions it
 * covers, with `nextRevision`, where to ask next. Asking again from `nextRevision` (on the same
 * replica, on another one after a disconnect, or after a leader change) continues with no gap and no
 * duplicate, because revisions are the same on every replica. A replica that has not applied as far
 * as another simply answers fewer revisions. A start at or below the compacted revision is refused
 * COMPACTED: those events are gone.
 *
 * A poll is bounded in work: it looks at most at `revisionsMax` revisions (the watched range may be
 * rare among them) and answers however many events they hold for the range. Pure.
 */
import { inRange, type KvEvent, type KvModelState } from '../storage/index.js';

/** One poll of a watch: events of keys in (key, rangeEnd) from `fromRevision` on. */
export interface KvWatchPoll {
  readonly key: Uint8Array;
  /** etcd's conventions: absent for the key alone, 0x00 for every key from `key` on. */
  readonly rangeEnd?: Uint8Array;
  readonly fromRevision: number;
  /** Most revisions looked at by this poll. */
  readonly revisionsMax: number;
}

/** The answer to a poll. */
export type KvWatchReply =
  | {
      readonly ok: true;
      /** Events in revision order; each event's revision is its `kv.modRevision`. */
      readonly events: readonly KvEvent[];
      /** Where the next poll starts: one past the last revision this poll covered. */
      readonly nextRevision: number;
      /** The replica's current revision. */
      readonly revision: number;
      readonly compactRevision: number;
    }
  | { readonly ok: false; readonly code: 'COMPACTED'; readonly compactRevision: number; readonly revision: number };

/** Picks the events of the watched range out of stored revisions (ascending, starting at or after `fromRevision`). */
export function selectEvents(poll: KvWatchPoll, state: KvModelState, stored: ReadonlyArray<{ readonly revision: number; readonly events: readonly KvEvent[] }>): KvWatchReply {
  const events: KvEvent[] = [];
  for (const revision of stored) for (const event of revision.events) if (inRange(event.kv.key, poll.key, poll.rangeEnd)) events.push(event);
  // A full poll stops at its last stored revision; a short one covered everything up to the current
  // revision (and up to the last stored one, should the state have moved on while the poll read).
  const last = stored.length === 0 ? 0 : stored[stored.length - 1]!.revision;
  const covered = stored.length >= poll.revisionsMax ? last : Math.max(last, state.revision);
  return { ok: true, events, nextRevision: Math.max(poll.fromRevision, covered + 1), revision: state.revision, compactRevision: state.compactRevision };
}
