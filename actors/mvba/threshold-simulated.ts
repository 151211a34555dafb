/**
 * A deterministic, fast stand-in for threshold BLS with the same interface and the same observable
 * behaviour (unique combined signatures, bad shares detected by combine and named by per-share checks,
 * repeated and unknown signers refused), built on SHA-256. It is NOT secure: every holder of the key
 * seed can forge every share. It exists so the simulation can run thousands of seeds per test run; the
 * simulation also runs some seeds, and the benchmark all of its runs, on `threshold-bls.ts`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { lengthPrefixed } from '../../runtime/index.js';
import { checkSigners } from './threshold-bls.js';
import type { CombineResult, PartyId, SignatureShare, ThresholdSigner } from './core/types.js';

const encoder = new TextEncoder();

function digest(parts: readonly (Uint8Array | string | number)[]): Uint8Array {
  const chunks = parts.map((part) => (part instanceof Uint8Array ? part : encoder.encode(String(part))));
  return sha256(lengthPrefixed(chunks));
}

function equalBytes(first: Uint8Array, second: Uint8Array): boolean {
  return first.length === second.length && first.every((byte, index) => byte === second[index]);
}

/** The simulated scheme for one key set, seen from party `self`. */
export class SimulatedThresholdSigner implements ThresholdSigner {
  constructor(
    private readonly seed: string,
    readonly parties: number,
    readonly threshold: number,
    readonly self: PartyId,
  ) {}

  private shareOf(signer: PartyId, message: Uint8Array): Uint8Array {
    return digest([this.seed, 'share', signer, message]);
  }

  signShare(message: Uint8Array): Uint8Array {
    return this.shareOf(this.self, message);
  }

  verifyShare(message: Uint8Array, share: SignatureShare): boolean {
    return share.signer >= 0 && share.signer < this.parties && equalBytes(share.share, this.shareOf(share.signer, message));
  }

  verify(message: Uint8Array, signature: Uint8Array): boolean {
    return equalBytes(signature, digest([this.seed, 'signature', message]));
  }

  combine(message: Uint8Array, shares: readonly SignatureShare[]): CombineResult {
    const checked = checkSigners(shares, this.parties, this.threshold);
    if (checked !== null) return checked;
    const chosen = shares.slice(0, this.threshold);
    const badSigners = chosen.filter((share) => !this.verifyShare(message, share)).map((share) => share.signer);
    if (badSigners.length > 0) return { ok: false, code: 'BAD_SHARES', badSigners };
    return { ok: true, signature: digest([this.seed, 'signature', message]) };
  }
}
