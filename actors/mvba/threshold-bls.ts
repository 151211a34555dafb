/**
 * Threshold BLS signatures on BLS12-381 (public keys in G1, signatures in G2), the production
 * implementation of the core's `ThresholdSigner`. A dealer draws a random polynomial of degree
 * threshold - 1 over the scalar field (Shamir sharing); party i holds its value at x = i + 1. Any
 * `threshold` signature shares combine, by Lagrange interpolation at 0, into the one signature of the
 * group key: the combined signature is unique, which is what makes it a common coin.
 *
 * Key generation, share arithmetic and Lagrange combination use `@noble/curves`; signing with a share
 * and every verification use `@chainsafe/blst` (native, about 40 times faster to verify here). Both use
 * blst's ciphersuite tag `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_` (a noble check with that tag agrees,
 * see the unit test).
 */
import { SecretKey, PublicKey, Signature, verify as blstVerify } from '@chainsafe/blst';
import { bls12_381, bls12_381_Fr as Fr } from '@noble/curves/bls12-381.js';
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../../runtime/errors.js';
import type { CombineResult, PartyId, SignatureShare, ThresholdSigner, ThresholdVerifier } from './core/types.js';

const G1 = bls12_381.G1.Point;
const G2 = bls12_381.G2.Point;

/** The public half of a key set: the group key and each party's share key (compressed G1 points). */
export interface ThresholdPublicKeys {
  readonly parties: number;
  readonly threshold: number;
  readonly groupKey: Uint8Array;
  readonly shareKeys: readonly Uint8Array[];
}

/** A dealt key set: the public keys and each party's 32-byte secret share (big-endian scalar). */
export interface DealtKeys {
  readonly publicKeys: ThresholdPublicKeys;
  readonly secrets: readonly Uint8Array[];
}

function randomScalar(random: (bytes: number) => Uint8Array): bigint {
  for (;;) {
    const bytes = random(48);
    let value = 0n;
    for (const byte of bytes) value = (value << 8n) | BigInt(byte);
    const scalar = Fr.create(value);
    if (scalar !== 0n) return scalar;
  }
}

/** Deals a `threshold`-of-`parties` key set. `random` defaults to the system CSPRNG. */
export function dealThresholdKeys(options: { parties: number; threshold: number; random?: ((bytes: number) => Uint8Array) | undefined }): DealtKeys {
  const { parties, threshold } = options;
  if (!Number.isSafeInteger(parties) || !Number.isSafeInteger(threshold) || threshold < 1 || threshold > parties || parties > 1024) {
    throw new InvalidArgumentError(`a key set needs 1 <= threshold <= parties <= 1024, not ${threshold} of ${parties}`);
  }
  const random = options.random ?? ((bytes: number) => new Uint8Array(randomBytes(bytes)));
  const coefficients = Array.from({ length: threshold }, () => randomScalar(random));
  const at = (x: bigint): bigint => coefficients.reduceRight((sum, coefficient) => Fr.add(Fr.mul(sum, x), coefficient), 0n);
  const secrets = Array.from({ length: parties }, (_, index) => at(BigInt(index + 1)));
  return {
    publicKeys: {
      parties, threshold,
      groupKey: G1.BASE.multiply(coefficients[0]!).toBytes(true),
      shareKeys: secrets.map((secret) => G1.BASE.multiply(secret).toBytes(true)),
    },
    secrets: secrets.map((secret) => Fr.toBytes(secret)),
  };
}

/** Verifies shares and combined signatures against one public key set. */
export class BlsThresholdVerifier implements ThresholdVerifier {
  readonly parties: number;
  readonly threshold: number;
  private readonly groupKey: PublicKey;
  private readonly shareKeys: PublicKey[];

  constructor(publicKeys: ThresholdPublicKeys) {
    if (publicKeys.shareKeys.length !== publicKeys.parties) throw new InvalidArgumentError('one share key per party is needed');
    this.parties = publicKeys.parties;
    this.threshold = publicKeys.threshold;
    this.groupKey = PublicKey.fromBytes(publicKeys.groupKey, true);
    this.shareKeys = publicKeys.shareKeys.map((key) => PublicKey.fromBytes(key, true));
  }

  verifyShare(message: Uint8Array, share: SignatureShare): boolean {
    const key = this.shareKeys[share.signer];
    return key !== undefined && verifyBytes(message, key, share.share);
  }

  verify(message: Uint8Array, signature: Uint8Array): boolean {
    return verifyBytes(message, this.groupKey, signature);
  }

  combine(message: Uint8Array, shares: readonly SignatureShare[]): CombineResult {
    const checked = checkSigners(shares, this.parties, this.threshold);
    if (checked !== null) return checked;
    const chosen = shares.slice(0, this.threshold);
    const combined = interpolate(chosen);
    if (combined !== null && this.verify(message, combined)) return { ok: true, signature: combined };
    const badSigners = chosen.filter((share) => !this.verifyShare(message, share)).map((share) => share.signer);
    return { ok: false, code: 'BAD_SHARES', badSigners };
  }
}

/** Refuses repeated or unknown signers and too few shares, before any curve arithmetic. */
export function checkSigners(shares: readonly SignatureShare[], parties: number, threshold: number): CombineResult | null {
  const seen = new Set<PartyId>();
  for (const { signer } of shares) {
    if (!Number.isSafeInteger(signer) || signer < 0 || signer >= parties) return { ok: false, code: 'UNKNOWN_SIGNER' };
    if (seen.has(signer)) return { ok: false, code: 'REPEATED_SIGNER' };
    seen.add(signer);
  }
  return shares.length < threshold ? { ok: false, code: 'TOO_FEW_SHARES' } : null;
}

/**
 * Lagrange interpolation at 0 of the shares' G2 points; null when a share does not decode.
 *
 * With party points x = 1 .. n, each coefficient is a small fraction N_i / D_i, so the sum is computed
 * as (sum of c_i * share_i) / L with L the least common multiple of the denominators and c_i = N_i L / D_i
 * small integers: cheap multiplications by small scalars and a single full-size one (by 1 / L), instead
 * of one full-size multiplication per share. Shares are decoded natively (blst) without the subgroup
 * check: the combined signature is verified with the check, and a failure falls back to per-share checks.
 */
function interpolate(shares: readonly SignatureShare[]): Uint8Array | null {
  try {
    return interpolateUnchecked(shares);
  } catch {
    // A share off the curve or outside the subgroup makes the arithmetic refuse it: a bad share, which
    // the per-share checks that follow name.
    return null;
  }
}

function interpolateUnchecked(shares: readonly SignatureShare[]): Uint8Array | null {
  const xs = shares.map((share) => BigInt(share.signer + 1));
  const numerators = xs.map((x) => xs.reduce((product, other) => (other === x ? product : product * other), 1n));
  const denominators = xs.map((x) => xs.reduce((product, other) => (other === x ? product : product * (other - x)), 1n));
  const lcm = denominators.reduce((acc, denominator) => leastCommonMultiple(acc, denominator < 0n ? -denominator : denominator), 1n);
  let sum = G2.ZERO;
  for (const [index, share] of shares.entries()) {
    const point = decodeG2(share.share);
    if (point === null) return null;
    const factor = (numerators[index]! * lcm) / denominators[index]!;
    const term = point.multiplyUnsafe(factor < 0n ? -factor : factor);
    sum = sum.add(factor < 0n ? term.negate() : term);
  }
  if (sum.equals(G2.ZERO)) return null;
  const combined = sum.multiplyUnsafe(Fr.inv(Fr.create(lcm)));
  return combined.equals(G2.ZERO) ? null : combined.toBytes(true);
}

function leastCommonMultiple(first: bigint, second: bigint): bigint {
  let a = first;
  let b = second;
  while (b !== 0n) [a, b] = [b, a % b];
  return (first / a) * second;
}

const Fp = bls12_381.fields.Fp;
const Fp2 = bls12_381.fields.Fp2;

/** A G2 point from compressed bytes, decompressed natively and not subgroup-checked (see interpolate). */
function decodeG2(bytes: Uint8Array): InstanceType<typeof G2> | null {
  let raw: Uint8Array;
  try {
    raw = Signature.fromBytes(bytes, false, false).toBytes(false);
  } catch {
    // An undecodable share is a bad share: the per-share checks that follow name its signer.
    return null;
  }
  if ((raw[0]! & 0x40) !== 0) return null;
  const part = (offset: number): bigint => Fp.create(BigInt(`0x${Buffer.from(raw.subarray(offset, offset + 48)).toString('hex')}`) & ((1n << 381n) - 1n));
  const x = Fp2.create({ c0: part(48), c1: part(0) });
  const y = Fp2.create({ c0: part(144), c1: part(96) });
  return G2.fromAffine({ x, y });
}

function verifyBytes(message: Uint8Array, key: PublicKey, bytes: Uint8Array): boolean {
  let signature: Signature;
  try {
    signature = Signature.fromBytes(bytes, true, true);
  } catch {
    // Bytes that are not a point of the G2 subgroup are not a signature: a failed check, not an error.
    return false;
  }
  return blstVerify(message, key, signature);
}

/** One party's signer: its secret share and the key set's public keys. */
export class BlsThresholdSigner extends BlsThresholdVerifier implements ThresholdSigner {
  readonly self: PartyId;
  private readonly secret: SecretKey;

  constructor(publicKeys: ThresholdPublicKeys, self: PartyId, secret: Uint8Array) {
    super(publicKeys);
    if (!Number.isSafeInteger(self) || self < 0 || self >= publicKeys.parties) throw new InvalidArgumentError(`party ${self} is not in the key set`);
    this.self = self;
    this.secret = SecretKey.fromBytes(secret);
    if (!equalBytes(this.secret.toPublicKey().toBytes(true), publicKeys.shareKeys[self]!)) {
      throw new InvalidArgumentError(`the secret share does not match party ${self}'s share key`);
    }
  }

  signShare(message: Uint8Array): Uint8Array {
    return this.secret.sign(message).toBytes(true);
  }
}

function equalBytes(first: Uint8Array, second: Uint8Array): boolean {
  return first.length === second.length && first.every((byte, index) => byte === second[index]);
}
