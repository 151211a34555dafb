/**
 * Collecting signature shares toward one threshold signature (a proof's 2f + 1 echo shares, a coin's
 * f + 1 shares). Shares are not verified as they arrive: once `threshold` distinct signers have sent one,
 * they are combined and the combined signature is verified (one check in the common case); only if that
 * fails are the shares checked one by one, and the bad signers are dropped and refused from then on.
 */
import { recordOnce } from './quorum.js';
import type { PartyId, SignatureShare, ThresholdVerifier } from './types.js';

/** The shares gathered so far for one statement, and the signature once they combine. */
export interface ShareCollector {
  readonly signers: PartyId[];
  readonly shares: SignatureShare[];
  /** Signers whose share for this statement failed its check; nothing more is taken from them. */
  readonly rejected: PartyId[];
  signature: Uint8Array | null;
}

/** An empty collector. */
export function newShareCollector(): ShareCollector {
  return { signers: [], shares: [], rejected: [], signature: null };
}

/**
 * Adds `share` (from the authenticated sender `share.signer`) and combines when enough are in hand.
 * Returns true when this call produced the signature.
 */
export function addShare(collector: ShareCollector, share: SignatureShare, verifier: ThresholdVerifier, statement: Uint8Array): boolean {
  if (collector.signature !== null || collector.rejected.includes(share.signer)) return false;
  if (!recordOnce(collector.signers, share.signer)) return false;
  collector.shares.push(share);
  if (collector.shares.length < verifier.threshold) return false;
  const result = verifier.combine(statement, collector.shares.slice(0, verifier.threshold));
  if (result.ok) {
    collector.signature = result.signature;
    return true;
  }
  // A failed combination names the bad shares; with repeated or unknown signers there is no way to
  // know which entry is wrong, so every share is checked on its own.
  const bad = result.code === 'BAD_SHARES'
    ? result.badSigners
    : collector.shares.filter((entry) => !verifier.verifyShare(statement, entry)).map((entry) => entry.signer);
  for (const signer of bad) collector.rejected.push(signer);
  const keep = collector.shares.filter((entry) => !bad.includes(entry.signer));
  collector.shares.length = 0;
  collector.shares.push(...keep);
  collector.signers.length = 0;
  collector.signers.push(...keep.map((entry) => entry.signer));
  return false;
}
