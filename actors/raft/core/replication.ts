/**
 * The leader's side of log replication (paper 5.3, 5.4.2, 7): AppendEntries with batching and
 * pipelining under per-follower flow control, fast backtracking on rejection, chunked InstallSnapshot
 * for followers behind the compacted prefix, heartbeats, and the commit rule.
 *
 * The commit rule (paper 5.4.2, Figure 8): a leader commits an index once a majority of voters hold
 * it AND the entry there is from the leader's current term. Entries of earlier terms are committed
 * only indirectly, by committing a later entry of the current term; counting replicas of an old entry
 * is not enough, because a future leader may still overwrite it.
 */
import { assert } from '../../../runtime/errors.js';
import { entryBytes } from './log.js';
import { committedIndex, hasQuorum } from './quorum.js';
import type { Raft } from './raft.js';
import type { AppendResponseMessage, HeartbeatResponseMessage, NodeId, SnapshotResponseMessage } from './types.js';

/** Heartbeat answers without progress, with entries outstanding, before the leader resends from match. */
const stalledHeartbeatsMax = 3;

/**
 * What becomes of an AppendEntries with no entries to carry: not sent (`skip`), sent to carry commit or
 * to probe (`send`), or sent only to carry a new commit index (`commit`: a follower in replicate state
 * then answers it only to reject it, see `broadcastCommit`).
 */
type EmptyAppend = 'skip' | 'send' | 'commit';

/**
 * Sends one AppendEntries to `to` if flow control allows; with `sendIfEmpty` an empty one still goes
 * (to carry commit or probe). Returns whether a message went out.
 */
export function sendAppend(raft: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  return appendTo(raft, to, sendIfEmpty ? 'send' : 'skip');
}

function appendTo(raft: Raft, to: NodeId, empty: EmptyAppend): boolean {
  const progress = raft.progress.get(to);
  if (progress === undefined || progress.isPaused()) return false;
  const prevLogIndex = progress.next - 1;
  const prevLogTerm = raft.log.term(prevLogIndex);
  if (prevLogTerm === undefined) return startSnapshot(raft, to);
  const { config, log } = raft;
  const entries = progress.next <= log.lastIndex() ? log.slice(progress.next, config.maxEntriesPerMessage, config.maxBytesPerMessage) : [];
  if (entries.length === 0 && empty === 'skip') return false;
  const append = { type: 'raft.append', from: raft.id, to, term: raft.term, prevLogIndex, prevLogTerm, entries, commit: log.committed } as const;
  // Only a follower in replicate state may leave it unanswered: a probe's answer is what moves it on.
  raft.send(entries.length === 0 && empty === 'commit' && progress.state === 'replicate' ? { ...append, commitOnly: true } : append);
  if (entries.length > 0 && progress.state === 'replicate') {
    const lastIndex = entries[entries.length - 1]!.index;
    progress.optimisticUpdate(lastIndex);
    progress.inflights.add(lastIndex, entries.reduce((sum, entry) => sum + entryBytes(entry), 0));
  } else if (progress.state === 'probe') {
    progress.probeSent = true;
  }
  progress.checkInvariant();
  return true;
}

/** Sends to `to` everything flow control allows (pipelining in replicate state). */
function sendAllowed(raft: Raft, to: NodeId, empty: EmptyAppend): void {
  const sent = appendTo(raft, to, empty);
  if (sent && raft.progress.get(to)?.state === 'replicate') {
    while (sendAppend(raft, to, false)) { /* keep filling the in-flight window */ }
  }
}

/** Sends new entries (and, with `sendIfEmpty`, the commit index) to every other member. */
export function broadcastAppend(raft: Raft, sendIfEmpty: boolean): void {
  for (const id of raft.progress.keys()) sendAllowed(raft, id, sendIfEmpty ? 'send' : 'skip');
}

/**
 * Tells every other member a new commit index at once (as etcd's leader does), with the entries flow
 * control lets go or in an empty AppendEntries. A follower in replicate state accepts that empty one
 * without answering (`commitOnly`): the leader already knows its match, and an answer to every commit
 * would cost each write one more message per follower each way. It still answers a rejection, which
 * sends the leader back to probing.
 */
export function broadcastCommit(raft: Raft): void {
  for (const id of raft.progress.keys()) sendAllowed(raft, id, 'commit');
}

/** Heartbeats to every other member. Commit is capped at each follower's match, which it is known to hold. */
export function broadcastHeartbeat(raft: Raft, readContext: string | null): void {
  for (const [id, progress] of raft.progress) {
    const commit = Math.min(progress.match, raft.log.committed);
    raft.send({ type: 'raft.heartbeat', from: raft.id, to: id, term: raft.term, commit, readContext });
  }
}

/** Applies the commit rule; returns whether commit moved. */
export function maybeCommit(raft: Raft): boolean {
  const voters = raft.membership().voters;
  const index = committedIndex(voters, (voter) => (voter === raft.id ? raft.log.stableIndex : raft.progress.get(voter)?.match ?? 0));
  if (index <= raft.log.committed || raft.log.term(index) !== raft.term) return false;
  const previous = raft.log.committed;
  raft.log.commitTo(index);
  raft.committed(previous);
  return true;
}

export function handleAppendResponse(raft: Raft, message: AppendResponseMessage): void {
  const progress = raft.progress.get(message.from);
  if (progress === undefined) return;
  progress.recentActive = true;
  if (message.reject) {
    // The follower told us the last index of a term no newer than the one we probed with; skip to
    // where our own log could agree with it, instead of walking back one entry per round trip.
    const hint = message.hintTerm > 0 ? raft.log.findConflictByTerm(message.hintIndex, message.hintTerm) : message.hintIndex;
    if (progress.maybeDecreaseTo(message.index, hint)) {
      if (progress.state === 'replicate') progress.becomeProbe();
      sendAppend(raft, message.from, false);
    }
    return;
  }
  if (!progress.maybeUpdate(message.index)) return;
  if (progress.state === 'probe') {
    progress.becomeReplicate();
  } else if (progress.state === 'snapshot') {
    if (progress.match >= (progress.snapshot?.index ?? 0) && progress.match >= raft.log.offsetIndex) progress.becomeReplicate();
    else if (progress.match >= (progress.snapshot?.index ?? 0)) progress.becomeProbe();
  } else {
    progress.inflights.freeUpTo(message.index);
  }
  if (maybeCommit(raft)) {
    if (raft.role !== 'leader') return;
    broadcastCommit(raft);
  } else {
    sendAllowed(raft, message.from, 'skip');
  }
  if (message.from === raft.leadTransferee && progress.match === raft.log.lastIndex()) raft.sendTimeoutNow(message.from);
}

export function handleHeartbeatResponse(raft: Raft, message: HeartbeatResponseMessage): void {
  const progress = raft.progress.get(message.from);
  if (progress === undefined) return;
  progress.recentActive = true;
  progress.probeSent = false;
  if (progress.match < raft.log.lastIndex()) {
    // An AppendEntries or its answer may have been lost. A probe is simply resent; a pipeline that
    // makes no progress over a few heartbeats falls back to probing from match.
    if (progress.state === 'replicate') {
      progress.stalledHeartbeats += 1;
      if (progress.stalledHeartbeats >= stalledHeartbeatsMax) progress.becomeProbe();
    }
    if (progress.state === 'probe') sendAppend(raft, message.from, true);
  }
  if (message.readContext === null) return;
  const acks = raft.readOnly.acknowledge(message.readContext, message.from);
  if (acks === null || !hasQuorum(raft.membership().voters, (voter) => acks.has(voter))) return;
  for (const read of raft.readOnly.release(message.readContext)) raft.deliverRead(read);
}

/** Chunk acknowledgements: advance the window, or go back to the first chunk the follower lacks. */
export function handleSnapshotResponse(raft: Raft, message: SnapshotResponseMessage): void {
  const progress = raft.progress.get(message.from);
  if (progress === undefined) return;
  progress.recentActive = true;
  const transfer = progress.snapshot;
  if (progress.state !== 'snapshot' || transfer === null || transfer.index !== message.snapshotIndex) return;
  if (message.nextChunk > transfer.ackedChunks) {
    transfer.ackedChunks = Math.min(message.nextChunk, transfer.chunkCount);
    transfer.stalledTicks = 0;
  } else if (message.nextChunk === transfer.ackedChunks && transfer.sentChunks > transfer.ackedChunks) {
    transfer.sentChunks = transfer.ackedChunks;
  }
  sendSnapshotChunks(raft, message.from);
}

/** Moves `to` into snapshot state and starts streaming the newest snapshot. */
function startSnapshot(raft: Raft, to: NodeId): boolean {
  const snapshot = raft.snapshot;
  const progress = raft.progress.get(to)!;
  assert(snapshot !== null && snapshot.meta.index >= raft.log.offsetIndex, 'log compacted without a snapshot covering it', {
    offsetIndex: raft.log.offsetIndex,
  });
  const chunkCount = Math.max(1, Math.ceil(snapshot.data.byteLength / raft.config.snapshotChunkBytes));
  progress.becomeSnapshot({ index: snapshot.meta.index, chunkCount });
  sendSnapshotChunks(raft, to);
  return true;
}

function sendSnapshotChunks(raft: Raft, to: NodeId): void {
  const progress = raft.progress.get(to)!;
  const transfer = progress.snapshot!;
  const snapshot = raft.snapshot!;
  const chunkBytes = raft.config.snapshotChunkBytes;
  while (transfer.sentChunks < transfer.chunkCount && transfer.sentChunks - transfer.ackedChunks < raft.config.maxInflightSnapshotChunks) {
    const start = transfer.sentChunks * chunkBytes;
    const data = snapshot.data.slice(start, Math.min(start + chunkBytes, snapshot.data.byteLength));
    raft.send({
      type: 'raft.snapshot',
      from: raft.id,
      to,
      term: raft.term,
      meta: snapshot.meta,
      chunkIndex: transfer.sentChunks,
      chunkCount: transfer.chunkCount,
      totalBytes: snapshot.data.byteLength,
      data,
    });
    transfer.sentChunks += 1;
  }
}

/** A snapshot transfer that made no progress for an election timeout starts over (the follower may have restarted). */
export function tickSnapshotTransfers(raft: Raft): void {
  for (const [id, progress] of raft.progress) {
    const transfer = progress.snapshot;
    if (progress.state !== 'snapshot' || transfer === null) continue;
    transfer.stalledTicks += 1;
    if (transfer.stalledTicks < raft.config.electionTicks) continue;
    progress.becomeProbe();
    sendAppend(raft, id, true);
  }
}
