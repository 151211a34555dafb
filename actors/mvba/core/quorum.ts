/**
 * Counting distinct parties. Every quorum in both protocols (2f + 1 echo shares, f + 1 coin shares,
 * n - f recommends or votes, ABBA's f + 1 / 2f + 1 / n - f thresholds) counts each party at most once,
 * however often a Byzantine party repeats itself: this module is the one place that rule lives.
 */
import type { PartyId } from './types.js';

/** Records `party` in `parties` unless it is already there; returns whether it was new. */
export function recordOnce(parties: PartyId[], party: PartyId): boolean {
  if (parties.includes(party)) return false;
  parties.push(party);
  return true;
}

/** The largest number of Byzantine parties n parties tolerate: n >= 3f + 1. */
export function faultsTolerated(parties: number): number {
  return Math.floor((parties - 1) / 3);
}
