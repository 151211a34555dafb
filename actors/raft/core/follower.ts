/**
 * The follower's side of replication (paper 5.3, 7): the AppendEntries consistency check, heartbeats,
 * and assembling a chunked InstallSnapshot. Every answer goes out in the Ready that also carries the
 * entries or snapshot it acknowledges, so the host sends it only after they are durable.
 */
import type { Raft } from './raft.js';
import type { AppendMessage, HeartbeatMessage, NodeId, Snapshot, SnapshotChunkMessage, SnapshotMeta } from './types.js';

/** A snapshot arriving chunk by chunk. */
export interface IncomingSnapshot {
  readonly meta: SnapshotMeta;
  readonly chunkCount: number;
  readonly totalBytes: number;
  readonly chunks: Uint8Array[];
  bytes: number;
}

function acknowledge(raft: Raft, to: NodeId, index: number): void {
  raft.send({ type: 'raft.appendResponse', from: raft.id, to, term: raft.term, reject: false, index, hintIndex: 0, hintTerm: 0 });
}

/** Paper 5.3: accept entries only where our log matches the leader's at prevLogIndex. */
export function handleAppend(raft: Raft, message: AppendMessage): void {
  const { log } = raft;
  // An accepted commit-only AppendEntries goes unanswered: the leader already knows our match
  // (replication.ts `broadcastCommit`); a rejection is still answered, so the leader probes again.
  const answer = message.commitOnly !== true;
  // Everything up to commit already matches the leader; say so and let it continue from there.
  if (message.prevLogIndex < log.committed) {
    if (answer) acknowledge(raft, message.from, log.committed);
    return;
  }
  const result = log.maybeAppend(message.prevLogIndex, message.prevLogTerm, message.commit, message.entries);
  if (result !== null) {
    if (message.entries.length > 0 && (result.rewrittenFrom !== 0)) raft.logRewritten(result.rewrittenFrom, message.entries);
    if (answer) acknowledge(raft, message.from, result.lastNewIndex);
    return;
  }
  // Point the leader at the last entry of a term no newer than prevLogTerm: all of that term's
  // entries after it disagree, so the leader can skip them in one step.
  const hintIndex = log.findConflictByTerm(Math.min(message.prevLogIndex, log.lastIndex()), message.prevLogTerm);
  raft.send({
    type: 'raft.appendResponse',
    from: raft.id,
    to: message.from,
    term: raft.term,
    reject: true,
    index: message.prevLogIndex,
    hintIndex,
    hintTerm: log.term(hintIndex) ?? 0,
  });
}

/** A heartbeat carries a commit index the leader knows we hold; it also answers ReadIndex rounds. */
export function handleHeartbeat(raft: Raft, message: HeartbeatMessage): void {
  raft.log.commitTo(message.commit);
  raft.send({ type: 'raft.heartbeatResponse', from: raft.id, to: message.from, term: raft.term, readContext: message.readContext });
}

/**
 * Paper 7, InstallSnapshot: chunks arrive in order; anything out of order is answered with the chunk
 * we expect next, and the leader resends from there. A snapshot at or below commit is stale.
 */
export function handleSnapshotChunk(raft: Raft, message: SnapshotChunkMessage): void {
  if (message.meta.index <= raft.log.committed) {
    raft.incomingSnapshot = null;
    return acknowledge(raft, message.from, raft.log.committed);
  }
  const respond = (nextChunk: number): void => {
    raft.send({ type: 'raft.snapshotResponse', from: raft.id, to: message.from, term: raft.term, snapshotIndex: message.meta.index, nextChunk });
  };
  if (message.totalBytes > raft.config.maxSnapshotBytes || message.chunkIndex >= message.chunkCount) return respond(0);
  let incoming = raft.incomingSnapshot;
  if (message.chunkIndex === 0) {
    incoming = { meta: message.meta, chunkCount: message.chunkCount, totalBytes: message.totalBytes, chunks: [], bytes: 0 };
    raft.incomingSnapshot = incoming;
  } else if (
    incoming === null ||
    incoming.meta.index !== message.meta.index ||
    incoming.meta.term !== message.meta.term ||
    incoming.chunks.length !== message.chunkIndex
  ) {
    const sameSnapshot = incoming !== null && incoming.meta.index === message.meta.index && incoming.meta.term === message.meta.term;
    return respond(sameSnapshot ? incoming!.chunks.length : 0);
  }
  incoming.chunks.push(message.data);
  incoming.bytes += message.data.byteLength;
  if (incoming.bytes > incoming.totalBytes) {
    raft.incomingSnapshot = null;
    return respond(0);
  }
  if (incoming.chunks.length < incoming.chunkCount) return respond(incoming.chunks.length);
  raft.incomingSnapshot = null;
  if (incoming.bytes !== incoming.totalBytes) return respond(0);
  installSnapshot(raft, { meta: incoming.meta, data: concatenate(incoming.chunks, incoming.totalBytes) }, message.from);
}

function installSnapshot(raft: Raft, snapshot: Snapshot, leader: NodeId): void {
  const { index, term } = snapshot.meta;
  if (raft.log.matchTerm(index, term)) {
    // We already hold the snapshot's last entry, so by log matching everything before it: only commit moves.
    raft.log.commitTo(index);
    return acknowledge(raft, leader, index);
  }
  raft.log.restore(snapshot);
  raft.memberships.reset(snapshot.meta.membership);
  raft.snapshot = snapshot;
  raft.syncProgress();
  acknowledge(raft, leader, index);
}

function concatenate(chunks: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const data = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return data;
}
