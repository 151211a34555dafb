/**
 * The replicated KV service's protocol: what clients send a replica and what it answers, with the
 * validation every request from the network passes before it reaches the log.
 *
 * - `kv.request` goes through the log: put, delete and cas (and, if a client wants, get and scan),
 *   identified by (clientId, sequence) so that a retry after a timeout is applied at most once
 *   (Raft thesis 6.3). Each client keeps one request outstanding and retries it with the same
 *   sequence number until it gets a definite answer.
 * - `kv.read` is a linearizable read served through ReadIndex (thesis 6.4): no log entry, no session.
 * - `raft.changeMembership` is an operator's single-server membership change (etcd's `member add`,
 *   `promote`, `remove`): add a learner (with the ref where it lives), promote a caught-up learner to
 *   voter, or remove a member. The leader answers once the change's entry commits; the core's refusals
 *   (a change already in flight, a learner still behind, a change that does not apply) come back typed.
 * - Answers are the state machine's `KvResult`, or a typed refusal: `NOT_LEADER` (with the leader this
 *   replica knows of, if any), `TIMEOUT` (the outcome is unknown: the request may still be applied,
 *   and a retry with the same sequence number is safe), `BUSY` (refused, not applied: back off and
 *   retry), `TOO_LARGE` and `INVALID_REQUEST` (refused, not applied).
 */
import type { Ref } from '../../runtime/ref.js';
import { invalidCommandReason, kvDefaultLimits, type KvCommand, type KvLimits, type KvResult } from './core/kv-state-machine.js';
import type { Membership, MembershipChange, NodeId, ProgressState, Role } from './core/types.js';

/** A request through the log. `timeoutMs` bounds how long the replica waits for it to apply. */
export interface KvWriteRequest {
  readonly type: 'kv.request';
  readonly clientId: string;
  readonly sequence: number;
  readonly command: KvCommand;
  readonly timeoutMs?: number;
}

/** A linearizable read through ReadIndex. */
export interface KvReadRequest {
  readonly type: 'kv.read';
  readonly command: Extract<KvCommand, { type: 'get' | 'scan' }>;
  readonly timeoutMs?: number;
}

/**
 * A single-server membership change. `peerRef` says where an added node's replica lives (default
 * `{ node, path: '/root/raft' }`); the leader records it so that it can replicate to the new member.
 */
export interface MembershipChangeRequest {
  readonly type: 'raft.changeMembership';
  readonly change: MembershipChange;
  readonly peerRef?: Ref;
  readonly timeoutMs?: number;
}

/** Operator requests: status, a digest of the state, leader transfer, membership changes. */
export type RaftAdminRequest =
  | { readonly type: 'raft.status' }
  | { readonly type: 'raft.digest' }
  | { readonly type: 'raft.transferLeader'; readonly target: NodeId }
  | MembershipChangeRequest;

/** Everything a client may send a replica. */
export type KvServiceRequest = KvWriteRequest | KvReadRequest | RaftAdminRequest;

/** Where a replica lives by default: the path `npm start` runs it at, on the node named by its id. */
export const defaultReplicaPath = '/root/raft';

/** The expected refusals of the service. */
export type KvRefusal =
  | { readonly ok: false; readonly code: 'NOT_LEADER'; readonly leaderHint: NodeId | null; readonly leaderRef: Ref | null }
  | { readonly ok: false; readonly code: 'TIMEOUT' }
  | { readonly ok: false; readonly code: 'BUSY'; readonly reason: string }
  | { readonly ok: false; readonly code: 'TOO_LARGE'; readonly bytes: number; readonly bytesMax: number }
  | { readonly ok: false; readonly code: 'INVALID_REQUEST'; readonly reason: string };

/** A replica's answer to `kv.request` or `kv.read`. */
export type KvReply = KvResult | KvRefusal;

/**
 * The refusals particular to membership changes, as the core gives them: another change has not
 * committed yet (or the leader has not committed an entry of its term), the learner to promote has not
 * replicated up to the commit index, or the change does not apply to the current membership.
 */
export type MembershipRefusal =
  | { readonly ok: false; readonly code: 'MEMBERSHIP_CHANGE_PENDING' }
  | { readonly ok: false; readonly code: 'LEARNER_NOT_CAUGHT_UP'; readonly match: number; readonly required: number }
  | { readonly ok: false; readonly code: 'INVALID_MEMBERSHIP_CHANGE'; readonly reason: string };

/** Answer to `raft.changeMembership`: the change committed at `index`, and the membership it left. */
export type MembershipReply =
  | { readonly ok: true; readonly type: 'membership'; readonly change: MembershipChange; readonly index: number; readonly membership: Membership }
  | KvRefusal
  | MembershipRefusal;

/** One peer's replication progress as the leader sees it. */
export interface PeerMetrics {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
}

/** Raft status as plain data: for the tree snapshot, `/metrics`, the CLI and tests. */
export interface RaftMetrics {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Followers' match index; empty unless this replica leads. */
  readonly peers: Readonly<Record<NodeId, PeerMetrics>>;
  /** Client requests waiting to apply, reads waiting to be served. */
  readonly pendingWrites: number;
  readonly pendingReads: number;
}

/** Answer to `raft.digest`. */
export interface DigestReply {
  readonly ok: true;
  readonly digest: string;
  readonly appliedIndex: number;
  readonly keys: number;
}

/** Longest wait a request may ask for. */
export const requestTimeoutMsMax = 60_000;

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Strings that are not well-formed Unicode would not survive UTF-8 storage unchanged. */
function wellFormed(command: KvCommand): boolean {
  const texts: unknown[] = command.type === 'scan' ? [command.start, command.end] : command.type === 'cas' ? [command.key, command.expected, command.value] : [command.key, (command as { value?: unknown }).value];
  return texts.every((text) => typeof text !== 'string' || !loneSurrogate.test(text));
}

/** A copy of a valid command with only its known fields (extra fields never reach the log). */
function knownFields(command: KvCommand): KvCommand {
  switch (command.type) {
    case 'put': return { type: 'put', key: command.key, value: command.value };
    case 'get': return { type: 'get', key: command.key };
    case 'delete': return { type: 'delete', key: command.key };
    case 'cas': return { type: 'cas', key: command.key, expected: command.expected, value: command.value };
    case 'scan': return { type: 'scan', start: command.start, end: command.end, limit: command.limit };
  }
}

function commandReason(command: unknown, limits: KvLimits): string | null {
  if (typeof command !== 'object' || command === null) return 'command must be an object';
  const reason = invalidCommandReason(command as KvCommand, limits);
  if (reason !== null) return reason;
  return wellFormed(command as KvCommand) ? null : 'keys and values must be well-formed Unicode';
}

function timeoutReason(timeoutMs: unknown): string | null {
  if (timeoutMs === undefined) return null;
  return typeof timeoutMs === 'number' && Number.isSafeInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= requestTimeoutMsMax
    ? null
    : `timeoutMs must be an integer in 1-${requestTimeoutMsMax}`;
}

const changeTypes: ReadonlySet<unknown> = new Set(['addLearner', 'promoteLearner', 'removeNode']);

function nodeIdReason(value: unknown, field: string): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 256 ? null : `${field} must be a string of 1-256 characters`;
}

function refReason(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'peerRef must be an object { node, path }';
  const ref = value as Record<string, unknown>;
  const reason = nodeIdReason(ref.node, 'peerRef.node');
  if (reason !== null) return reason;
  return typeof ref.path === 'string' && ref.path.startsWith('/') && ref.path.length <= 1_024 ? null : 'peerRef.path must be an absolute actor path';
}

/** Checks a `raft.changeMembership` request field by field; the result holds only known fields. */
function parseMembershipRequest(record: Record<string, unknown>): { ok: true; request: MembershipChangeRequest } | { ok: false; reason: string } {
  const change = record.change as Record<string, unknown> | null;
  if (typeof change !== 'object' || change === null) return { ok: false, reason: 'change must be an object { type, node }' };
  if (!changeTypes.has(change.type)) return { ok: false, reason: 'change.type must be addLearner, promoteLearner or removeNode' };
  const reason = nodeIdReason(change.node, 'change.node') ?? timeoutReason(record.timeoutMs);
  if (reason !== null) return { ok: false, reason };
  const node = change.node as NodeId;
  if (record.peerRef !== undefined) {
    if (change.type !== 'addLearner') return { ok: false, reason: 'peerRef is only for addLearner' };
    const invalid = refReason(record.peerRef);
    if (invalid !== null) return { ok: false, reason: invalid };
  }
  const peerRef = record.peerRef as Ref | undefined;
  return {
    ok: true,
    request: {
      type: 'raft.changeMembership',
      change: { type: change.type as MembershipChange['type'], node },
      ...(peerRef === undefined ? {} : { peerRef: { node: peerRef.node, path: peerRef.path } }),
      ...(record.timeoutMs === undefined ? {} : { timeoutMs: record.timeoutMs as number }),
    },
  };
}

/**
 * Checks a client message (untrusted). Returns the request with only its known fields, or the reason
 * it is refused; messages that are not service requests at all give null.
 */
export function parseServiceRequest(value: unknown, limits: KvLimits = kvDefaultLimits): { ok: true; request: KvServiceRequest } | { ok: false; reason: string } | null {
  if (typeof value !== 'object' || value === null) return null;
  const record = value as Record<string, unknown>;
  switch (record.type) {
    case 'kv.request': {
      if (typeof record.clientId !== 'string' || record.clientId.length === 0 || record.clientId.length > 256) return { ok: false, reason: 'clientId must be a string of 1-256 characters' };
      if (typeof record.sequence !== 'number' || !Number.isSafeInteger(record.sequence) || record.sequence < 1) return { ok: false, reason: 'sequence must be a positive integer' };
      const reason = commandReason(record.command, limits) ?? timeoutReason(record.timeoutMs);
      if (reason !== null) return { ok: false, reason };
      const request: KvWriteRequest = { type: 'kv.request', clientId: record.clientId, sequence: record.sequence, command: knownFields(record.command as KvCommand) };
      return { ok: true, request: record.timeoutMs === undefined ? request : { ...request, timeoutMs: record.timeoutMs as number } };
    }
    case 'kv.read': {
      const command = record.command as KvCommand | null;
      if (typeof command !== 'object' || command === null || (command.type !== 'get' && command.type !== 'scan')) return { ok: false, reason: 'kv.read serves get and scan only' };
      const reason = commandReason(command, limits) ?? timeoutReason(record.timeoutMs);
      if (reason !== null) return { ok: false, reason };
      const request: KvReadRequest = { type: 'kv.read', command: knownFields(command) as KvReadRequest['command'] };
      return { ok: true, request: record.timeoutMs === undefined ? request : { ...request, timeoutMs: record.timeoutMs as number } };
    }
    case 'raft.status':
    case 'raft.digest':
      return { ok: true, request: { type: record.type } };
    case 'raft.transferLeader':
      if (typeof record.target !== 'string' || record.target.length === 0) return { ok: false, reason: 'target must be a replica id' };
      return { ok: true, request: { type: 'raft.transferLeader', target: record.target } };
    case 'raft.changeMembership':
      return parseMembershipRequest(record);
    default:
      return null;
  }
}
