/**
 * Validation of Raft messages that arrive from the network. A peer's message is untrusted: the
 * cluster layer has decoded it within size and depth limits, and this checks its schema field by
 * field before the core sees it, so a malformed or hostile message becomes a dead letter instead of
 * a crash or corrupted state. The core then trusts the types (core/node.ts `step`).
 *
 * Numbers are checked for meaning as well as type: a term, index, commit, hint or count is a safe
 * integer of at most `integerMax` (2^48 - 1). The WAL reader (durable-log.ts, through
 * `checkStoredEntry`) accepts every safe integer, so whatever the wire accepts, and whatever the core
 * derives from it (a term one higher after an election, indexes a batch further), is replayable:
 * reaching 2^53 from 2^48 would take 2^53 - 2^48 elections. A peer-sent term of 2^53 - 1 is refused
 * here and never reaches the core or the disk.
 *
 * | limit                 | default   | at the bound                                   |
 * |-----------------------|-----------|------------------------------------------------|
 * | integerMax            | 2^48 - 1  | message refused (dead letter, `refused` count) |
 * | entriesPerMessageMax  | 65 536    | message refused                                |
 * | textLengthMax         | 256       | message refused                                |
 * | membersMax            | 1 024     | message refused                                |
 */
import type { Entry, Membership, MembershipChange, Message, SnapshotMeta } from './core/types.js';

/** Result of validating one message: the typed message, or why it was refused. */
export type WireCheck = { readonly ok: true; readonly message: Message } | { readonly ok: false; readonly reason: string };

/** Bounds on what a peer may send. */
export interface WireLimits {
  /** Entries in one AppendEntries. */
  readonly entriesPerMessageMax: number;
  /** Length of a node id or a read context. */
  readonly textLengthMax: number;
  /** Members listed in a snapshot's membership. */
  readonly membersMax: number;
  /** Largest term, index, commit, hint or count; below `Number.MAX_SAFE_INTEGER` with room to grow (see above). */
  readonly integerMax: number;
}

/** Largest term or index a peer may send: 2^48 - 1. */
export const wireIntegerMax = 2 ** 48 - 1;

/** Defaults, well above what a correct peer sends with the core's default configuration. */
export const wireLimits: WireLimits = { entriesPerMessageMax: 65_536, textLengthMax: 256, membersMax: 1_024, integerMax: wireIntegerMax };

/** What the WAL reader accepts: every safe integer, a superset of what the wire accepts. */
const storedLimits: WireLimits = { ...wireLimits, integerMax: Number.MAX_SAFE_INTEGER };

const messageTypes: ReadonlySet<string> = new Set([
  'raft.preVote', 'raft.vote', 'raft.preVoteResponse', 'raft.voteResponse', 'raft.append', 'raft.appendResponse', 'raft.heartbeat',
  'raft.heartbeatResponse', 'raft.snapshot', 'raft.snapshotResponse', 'raft.timeoutNow', 'raft.propose', 'raft.readIndex', 'raft.readIndexResponse',
]);

/** True when `value` looks like a Raft message (its type names one), before full validation. */
export function isRaftMessageType(type: unknown): boolean {
  return typeof type === 'string' && messageTypes.has(type);
}

class Refused extends Error {}

function refuse(reason: string): never {
  throw new Refused(reason);
}

function index(value: unknown, name: string, limits: WireLimits): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) refuse(`${name} must be a non-negative integer`);
  if (value > limits.integerMax) refuse(`${name} must be at most ${limits.integerMax}`);
  return value;
}

function text(value: unknown, name: string, limits: WireLimits): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > limits.textLengthMax) refuse(`${name} must be a string of 1-${limits.textLengthMax} characters`);
  return value;
}

function flag(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') refuse(`${name} must be a boolean`);
  return value;
}

function bytes(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) refuse(`${name} must be a byte string`);
  return value;
}

function members(value: unknown, name: string, limits: WireLimits): string[] {
  if (!Array.isArray(value) || value.length > limits.membersMax) refuse(`${name} must be an array of at most ${limits.membersMax} ids`);
  return value.map((item, position) => text(item, `${name}[${position}]`, limits));
}

function membership(value: unknown, limits: WireLimits): Membership {
  if (typeof value !== 'object' || value === null) refuse('membership must be an object');
  const record = value as Record<string, unknown>;
  return { voters: members(record.voters, 'voters', limits), learners: members(record.learners, 'learners', limits) };
}

function snapshotMeta(value: unknown, limits: WireLimits): SnapshotMeta {
  if (typeof value !== 'object' || value === null) refuse('meta must be an object');
  const record = value as Record<string, unknown>;
  return { index: index(record.index, 'meta.index', limits), term: index(record.term, 'meta.term', limits), membership: membership(record.membership, limits) };
}

function change(value: unknown, limits: WireLimits): MembershipChange {
  if (typeof value !== 'object' || value === null) refuse('change must be an object');
  const record = value as Record<string, unknown>;
  if (record.type !== 'addLearner' && record.type !== 'promoteLearner' && record.type !== 'removeNode') refuse('unknown membership change');
  return { type: record.type, node: text(record.node, 'change.node', limits) };
}

/** Validates one log entry (also used when reading entries back from the WAL). */
export function checkEntry(value: unknown, limits: WireLimits = wireLimits): Entry {
  if (typeof value !== 'object' || value === null) refuse('entry must be an object');
  const record = value as Record<string, unknown>;
  const term = index(record.term, 'entry.term', limits);
  const at = index(record.index, 'entry.index', limits);
  if (at === 0) refuse('entry.index must be positive');
  if (record.type === 'normal') return { type: 'normal', term, index: at, data: bytes(record.data, 'entry.data') };
  if (record.type === 'membership') return { type: 'membership', term, index: at, change: change(record.change, limits) };
  return refuse('unknown entry type');
}

function entries(value: unknown, limits: WireLimits): Entry[] {
  if (!Array.isArray(value) || value.length > limits.entriesPerMessageMax) refuse(`entries must be an array of at most ${limits.entriesPerMessageMax}`);
  const checked = value.map((entry) => checkEntry(entry, limits));
  checked.forEach((entry, position) => {
    if (position > 0 && entry.index !== checked[position - 1]!.index + 1) refuse('entries must be contiguous');
  });
  return checked;
}

/** Checks every field of a message by its type; throws Refused with the reason. */
function checkFields(record: Record<string, unknown>, limits: WireLimits): Message {
  const header = { from: text(record.from, 'from', limits), to: text(record.to, 'to', limits), term: index(record.term, 'term', limits) };
  switch (record.type) {
    case 'raft.preVote':
      return { ...header, type: 'raft.preVote', lastLogIndex: index(record.lastLogIndex, 'lastLogIndex', limits), lastLogTerm: index(record.lastLogTerm, 'lastLogTerm', limits) };
    case 'raft.vote':
      return {
        ...header, type: 'raft.vote', lastLogIndex: index(record.lastLogIndex, 'lastLogIndex', limits), lastLogTerm: index(record.lastLogTerm, 'lastLogTerm', limits),
        transfer: flag(record.transfer, 'transfer'),
      };
    case 'raft.preVoteResponse':
    case 'raft.voteResponse':
      return { ...header, type: record.type, reject: flag(record.reject, 'reject') };
    case 'raft.append': {
      const appended = entries(record.entries, limits);
      const prevLogIndex = index(record.prevLogIndex, 'prevLogIndex', limits);
      if (appended.length > 0 && appended[0]!.index !== prevLogIndex + 1) refuse('entries must follow prevLogIndex');
      const append = { ...header, type: 'raft.append', prevLogIndex, prevLogTerm: index(record.prevLogTerm, 'prevLogTerm', limits), entries: appended, commit: index(record.commit, 'commit', limits) } as const;
      if (record.commitOnly === undefined) return append;
      if (record.commitOnly !== true || appended.length > 0) refuse('commitOnly must be true, and only on an append without entries');
      return { ...append, commitOnly: true };
    }
    case 'raft.appendResponse':
      return {
        ...header, type: 'raft.appendResponse', reject: flag(record.reject, 'reject'), index: index(record.index, 'index', limits),
        hintIndex: index(record.hintIndex, 'hintIndex', limits), hintTerm: index(record.hintTerm, 'hintTerm', limits),
      };
    case 'raft.heartbeat':
      return { ...header, type: 'raft.heartbeat', commit: index(record.commit, 'commit', limits), readContext: record.readContext === null ? null : text(record.readContext, 'readContext', limits) };
    case 'raft.heartbeatResponse':
      return { ...header, type: 'raft.heartbeatResponse', readContext: record.readContext === null ? null : text(record.readContext, 'readContext', limits) };
    case 'raft.snapshot':
      return {
        ...header, type: 'raft.snapshot', meta: snapshotMeta(record.meta, limits), chunkIndex: index(record.chunkIndex, 'chunkIndex', limits),
        chunkCount: index(record.chunkCount, 'chunkCount', limits), totalBytes: index(record.totalBytes, 'totalBytes', limits), data: bytes(record.data, 'data'),
      };
    case 'raft.snapshotResponse':
      return { ...header, type: 'raft.snapshotResponse', snapshotIndex: index(record.snapshotIndex, 'snapshotIndex', limits), nextChunk: index(record.nextChunk, 'nextChunk', limits) };
    case 'raft.timeoutNow':
      return { ...header, type: 'raft.timeoutNow' };
    case 'raft.propose':
      return { ...header, type: 'raft.propose', data: bytes(record.data, 'data') };
    case 'raft.readIndex':
      return { ...header, type: 'raft.readIndex', context: text(record.context, 'context', limits) };
    case 'raft.readIndexResponse':
      return { ...header, type: 'raft.readIndexResponse', context: text(record.context, 'context', limits), index: index(record.index, 'index', limits) };
    default:
      return refuse('unknown message type');
  }
}

/** Validates a message from the network; a copy with exactly the known fields is returned. */
export function checkMessage(value: unknown, limits: WireLimits = wireLimits): WireCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'message must be an object' };
  try {
    return { ok: true, message: checkFields(value as Record<string, unknown>, limits) };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, reason: error.message };
    throw error;
  }
}

/** Validates a snapshot's metadata read back from disk; throws with the reason when it is malformed. */
export function checkSnapshotMeta(value: unknown, limits: WireLimits = storedLimits): SnapshotMeta {
  try {
    return snapshotMeta(value, limits);
  } catch (error) {
    if (error instanceof Refused) throw new TypeError(error.message);
    throw error;
  }
}

/** Validates a stored entry; throws TypeError with the reason when it is malformed. */
export function checkStoredEntry(value: unknown): Entry {
  try {
    return checkEntry(value, storedLimits);
  } catch (error) {
    if (error instanceof Refused) throw new TypeError(error.message);
    throw error;
  }
}
