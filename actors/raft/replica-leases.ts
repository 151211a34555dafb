/**
 * The replica's side of leases: it feeds the lease clock (core/lease-clock.ts) what the state machine
 * applied, and on the leader proposes the revoke of each lease the clock finds expired. The clock makes
 * the decisions; this file only carries them to the core and the log.
 */
import type { KvApplied } from './core/kv-state-machine.js';
import type { LeaseClock } from './core/lease-clock.js';
import type { RaftNode } from './core/node.js';
import { encodeKvRequest } from './kv-codec.js';
import type { AppliedEntry } from './kv-machine.js';

/** Tells the clock about the grants and revokes that just applied. */
export function leasesApplied(clock: LeaseClock, entries: readonly AppliedEntry[], nowMs: number): void {
  for (const entry of entries) {
    if (entry.request === null || entry.applied === null || entry.applied.duplicate) continue;
    const command = entry.request.command;
    const result: KvApplied['result'] = entry.applied.result;
    if (command.type === 'leaseGrant' && result.ok && result.type === 'leaseGrant') clock.granted(result.lease, result.ttlMs, nowMs);
    if (command.type === 'leaseRevoke' && (result.ok || result.code === 'LEASE_NOT_FOUND')) clock.revoked(command.lease);
  }
}

/** On the leader: proposes a revoke (without a session: revokes are idempotent) for each expired lease. */
export function proposeExpiredLeases(clock: LeaseClock, node: RaftNode, nowMs: number): void {
  for (const lease of clock.expired(nowMs)) {
    // A refused proposal (busy, no longer leader) is proposed again after the clock's retry interval.
    node.propose(encodeKvRequest({ command: { type: 'leaseRevoke', lease } }));
  }
}
