/**
 * The replicated KV service's protocol: what clients send a replica and what it answers, with the
 * validation every request from the network passes before it reaches the log.
 *
 * - `kv.request` goes through the log: a command of the key-value model (a transaction, a lease grant or revoke, a compaction),
 *   identified by (clientId, sequence) so that a retry after a timeout is applied at most once
 *   (Raft thesis 6.3). Each client keeps one request outstanding and retries it with the same
 *   sequence number until it gets a definite answer.
 * - `kv.read` is a linearizable read served through ReadIndex (thesis 6.4): no log entry, no session.
 * - `kv.watch` polls a replica's applied event log (any replica, leader or not; kv-watch.ts).
 * - `kv.leaseKeepAlive` renews a lease on the leader, whose clock decides expiry.
 * - `raft.changeMembership` is an operator's single-server membership change (etcd's `member add`,
 *   `promote`, `remove`): add a learner (with the ref where it lives), promote a caught-up learner to
 *   voter, or remove a member. The leader answers once the change's entry commits; the core's refusals
 *   (a change already in flight, a learner still behind, a change that does not apply) come back typed.
 * - Answers are the state machine's `KvAppliedResult`, or a typed refusal: `NOT_LEADER` (with the leader this
 *   replica knows of, if any), `TIMEOUT` (the outcome is unknown: the request may still be applied,
 *   and a retry with the same sequence number is safe), `BUSY` (refused, not applied: back off and
 *   retry), `TOO_LARGE` and `INVALID_REQUEST` (refused, not applied).
 */
import type { Ref } from '../../runtime/ref.js';
import { kvLimits, validateKvCommand, type KvCommand, type KvLimits } from '../storage/index.js';
import { invalidSessionReason, type KvAppliedResult } from './core/kv-state-machine.js';
import type { Membership, MembershipChange, NodeId, ProgressState, Role } from './core/types.js';

/** A request through the log. `timeoutMs` bounds how long the replica waits for it to apply. */
export interface KvWriteRequest {
  readonly type: 'kv.request';
  readonly clientId: string;
  readonly sequence: number;
  readonly command: KvCommand;
  readonly timeoutMs?: number;
}

/** A linearizable read through ReadIndex: a transaction whose ops are all ranges. */
export interface KvReadRequest {
  readonly type: 'kv.read';
  readonly command: KvCommand;
  readonly timeoutMs?: number;
}

/**
 * One poll of a watch, served by any replica from its applied event log (kv-watch.ts): the events of
 * keys in (key, rangeEnd) from `fromRevision` on, looking at most at `revisionsMax` revisions.
 */
export interface KvWatchRequest {
  readonly type: 'kv.watch';
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly fromRevision: number;
  readonly revisionsMax?: number;
}

/** Renews a lease's TTL on the leader (whose clock decides expiry). */
export interface KvLeaseKeepAliveRequest {
  readonly type: 'kv.leaseKeepAlive';
  readonly lease: number;
}

/** Answer to a keep-alive: the TTL the lease has again from now. */
export type KvLeaseKeepAliveReply = { readonly ok: true; readonly type: 'leaseKeepAlive'; readonly lease: number; readonly ttlMs: number } | { readonly ok: false; readonly code: 'LEASE_NOT_FOUND'; readonly message: string };

/** Revisions one watch poll looks at, at most. */
export const watchRevisionsMax = 1_000;

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
export type KvServiceRequest = KvWriteRequest | KvReadRequest | KvWatchRequest | KvLeaseKeepAliveRequest | RaftAdminRequest;

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
export type KvReply = KvAppliedResult | KvRefusal;

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

function commandReason(command: unknown, limits: KvLimits): { ok: true; command: KvCommand } | { ok: false; reason: string } {
  const checked = validateKvCommand(command, limits);
  return checked.ok ? { ok: true, command: checked.value } : checked;
}

/** Whether a command only reads: a transaction of ranges (and compares). */
export function isReadOnly(command: KvCommand): boolean {
  return command.type === 'txn' && [...command.txn.success, ...command.txn.failure].every((op) => op.type === 'range');
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
export function parseServiceRequest(value: unknown, limits: KvLimits = kvLimits): { ok: true; request: KvServiceRequest } | { ok: false; reason: string } | null {
  if (typeof value !== 'object' || value === null) return null;
  const record = value as Record<string, unknown>;
  switch (record.type) {
    case 'kv.request': {
      if (record.clientId === undefined) return { ok: false, reason: 'clientId must be a string of 1-256 characters' };
      const session = invalidSessionReason(record);
      if (session !== null) return { ok: false, reason: session };
      const checked = commandReason(record.command, limits);
      if (!checked.ok) return checked;
      const timeout = timeoutReason(record.timeoutMs);
      if (timeout !== null) return { ok: false, reason: timeout };
      const request: KvWriteRequest = { type: 'kv.request', clientId: record.clientId as string, sequence: record.sequence as number, command: checked.command };
      return { ok: true, request: record.timeoutMs === undefined ? request : { ...request, timeoutMs: record.timeoutMs as number } };
    }
    case 'kv.read': {
      const checked = commandReason(record.command, limits);
      if (!checked.ok) return checked;
      if (!isReadOnly(checked.command)) return { ok: false, reason: 'kv.read serves transactions of ranges only' };
      const timeout = timeoutReason(record.timeoutMs);
      if (timeout !== null) return { ok: false, reason: timeout };
      const request: KvReadRequest = { type: 'kv.read', command: checked.command };
      return { ok: true, request: record.timeoutMs === undefined ? request : { ...request, timeoutMs: record.timeoutMs as number } };
    }
    case 'kv.watch':
      return parseWatch(record, limits);
    case 'kv.leaseKeepAlive':
      return typeof record.lease === 'number' && Number.isSafeInteger(record.lease) && record.lease > 0
        ? { ok: true, request: { type: 'kv.leaseKeepAlive', lease: record.lease } }
        : { ok: false, reason: 'lease must be a positive integer' };
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

function parseWatch(record: Record<string, unknown>, limits: KvLimits): { ok: true; request: KvWatchRequest } | { ok: false; reason: string } {
  // A watch names its range as a range op does: check it as one.
  const checked = validateKvCommand({ type: 'txn', txn: { success: [{ type: 'range', key: record.key, rangeEnd: record.rangeEnd }] } }, limits);
  if (!checked.ok) return { ok: false, reason: checked.reason.replace(/^success 0: /, '') };
  const op = (checked.value as Extract<KvCommand, { type: 'txn' }>).txn.success[0]!;
  const { fromRevision, revisionsMax } = record;
  if (typeof fromRevision !== 'number' || !Number.isSafeInteger(fromRevision) || fromRevision < 1) return { ok: false, reason: 'fromRevision must be a positive integer' };
  if (revisionsMax !== undefined && (typeof revisionsMax !== 'number' || !Number.isSafeInteger(revisionsMax) || revisionsMax < 1 || revisionsMax > watchRevisionsMax)) {
    return { ok: false, reason: `revisionsMax must be an integer in 1-${watchRevisionsMax}` };
  }
  return {
    ok: true,
    request: { type: 'kv.watch', key: op.key, ...(op.type === 'range' && op.rangeEnd !== undefined ? { rangeEnd: op.rangeEnd } : {}), fromRevision, ...(revisionsMax === undefined ? {} : { revisionsMax: revisionsMax as number }) },
  };
}
