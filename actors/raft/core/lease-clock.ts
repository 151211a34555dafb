/**
 * The leader's lease clock: which leases have outlived their TTL, decided from the leader's clock and
 * acted on through the log. Pure: time comes in as `nowMs`.
 *
 * As in etcd, expiry is the leader's decision and a revoke is a replicated command, so every replica
 * deletes a lease's keys at the same revision. Every replica tracks the leases it applied (grants and
 * revokes), so a new leader knows them all; when a replica starts leading it gives every lease its
 * full TTL again from its own clock (it cannot know how long the old leader had counted), which
 * keeps a lease alive at least its TTL after its last keep-alive. A keep-alive renews a lease on the
 * leader only. An expired lease is proposed for revocation once, and again after `revokeRetryMs`
 * while its revoke has not applied (the proposal may have been lost with a leadership change).
 */

/** A lease the clock tracks. */
interface TrackedLease {
  readonly ttlMs: number;
  /** When it expires on this leader's clock (null while this replica does not lead). */
  deadlineMs: number | null;
  /** When a revoke was last proposed, if one is in flight. */
  revokeProposedMs: number | null;
}

/** How long a proposed revoke may stay unapplied before it is proposed again. */
export const revokeRetryMs = 1_000;

/** Tracks leases and their expiry on the leader. */
export class LeaseClock {
  readonly #leases = new Map<number, TrackedLease>();
  #leading = false;

  /** Number of leases tracked. */
  get size(): number { return this.#leases.size; }

  get leading(): boolean { return this.#leading; }

  /** Replaces the tracked leases (after a restart or a snapshot install). */
  load(leases: ReadonlyArray<{ readonly id: number; readonly ttlMs: number }>, nowMs: number): void {
    this.#leases.clear();
    for (const lease of leases) this.#leases.set(lease.id, { ttlMs: lease.ttlMs, deadlineMs: this.#leading ? nowMs + lease.ttlMs : null, revokeProposedMs: null });
  }

  /** A grant applied. */
  granted(id: number, ttlMs: number, nowMs: number): void {
    this.#leases.set(id, { ttlMs, deadlineMs: this.#leading ? nowMs + ttlMs : null, revokeProposedMs: null });
  }

  /** A revoke applied (or the lease was found missing). */
  revoked(id: number): void {
    this.#leases.delete(id);
  }

  /** This replica leads from now: every lease gets its full TTL from this clock. */
  lead(nowMs: number): void {
    if (this.#leading) return;
    this.#leading = true;
    for (const lease of this.#leases.values()) {
      lease.deadlineMs = nowMs + lease.ttlMs;
      lease.revokeProposedMs = null;
    }
  }

  /** This replica no longer leads. */
  follow(): void {
    this.#leading = false;
    for (const lease of this.#leases.values()) lease.deadlineMs = null;
  }

  /** Renews a lease; returns its TTL, or undefined when it is unknown (or this replica does not lead). */
  keepAlive(id: number, nowMs: number): number | undefined {
    const lease = this.#leases.get(id);
    if (!this.#leading || lease === undefined) return undefined;
    lease.deadlineMs = nowMs + lease.ttlMs;
    return lease.ttlMs;
  }

  /** The remaining TTL of a lease on this leader, or undefined. */
  remainingMs(id: number, nowMs: number): number | undefined {
    const deadline = this.#leases.get(id)?.deadlineMs;
    return deadline === null || deadline === undefined ? undefined : Math.max(0, deadline - nowMs);
  }

  /** Leases to revoke now (expired, and no revoke of theirs in flight); marks them proposed. */
  expired(nowMs: number): number[] {
    if (!this.#leading) return [];
    const due: number[] = [];
    for (const [id, lease] of this.#leases) {
      if (lease.deadlineMs === null || lease.deadlineMs > nowMs) continue;
      if (lease.revokeProposedMs !== null && nowMs - lease.revokeProposedMs < revokeRetryMs) continue;
      lease.revokeProposedMs = nowMs;
      due.push(id);
    }
    return due;
  }
}
