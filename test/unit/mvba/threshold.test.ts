/**
 * One conformance suite for both implementations of the threshold interface: threshold BLS
 * (threshold-bls.ts, noble + blst) and the simulated scheme the simulation uses for most seeds
 * (threshold-simulated.ts). Both must combine any `threshold` good shares into the same unique
 * signature, name bad shares, refuse repeated and unknown signers, and bind the statement signed.
 */
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { describe, expect, it } from 'vitest';
import { coinStatement, echoStatement } from '../../../actors/mvba/core/signing.js';
import type { SignatureShare, ThresholdSigner } from '../../../actors/mvba/core/types.js';
import { dealPartyKeys, partyCryptoFromKeyFile, simulatedPartyCrypto } from '../../../actors/mvba/keys.js';
import { BlsThresholdSigner, dealThresholdKeys } from '../../../actors/mvba/threshold-bls.js';

type Signers = (kind: 'quorum' | 'coin') => ThresholdSigner[];

const parties = 4;
const blsFiles = dealPartyKeys(parties);
const blsSigners: Signers = (kind) => blsFiles.map((file) => partyCryptoFromKeyFile(file)[kind]);
const simulatedSigners: Signers = (kind) => Array.from({ length: parties }, (_, self) => simulatedPartyCrypto('unit', parties, self)[kind]);

function shares(signers: ThresholdSigner[], message: Uint8Array, who: number[]): SignatureShare[] {
  return who.map((signer) => ({ signer, share: signers[signer]!.signShare(message) }));
}

for (const [name, make] of [['threshold BLS (noble + blst)', blsSigners], ['simulated threshold scheme', simulatedSigners]] as const) {
  describe(`${name}: the threshold interface`, () => {
    const quorum = make('quorum');
    const coin = make('coin');
    const statement = echoStatement('instance-a', 0, 2, new TextEncoder().encode('value'));

    it('deals a 3-of-4 quorum key set and a 2-of-4 coin key set for n = 4', () => {
      expect(quorum[0]!.threshold).toBe(3);
      expect(coin[0]!.threshold).toBe(2);
    });

    it('combines any threshold subset of good shares into the same signature, which verifies', () => {
      const first = quorum[0]!.combine(statement, shares(quorum, statement, [0, 1, 2]));
      const second = quorum[3]!.combine(statement, shares(quorum, statement, [3, 1, 0]));
      expect(first.ok && second.ok).toBe(true);
      if (!first.ok || !second.ok) return;
      expect(Buffer.from(first.signature).equals(Buffer.from(second.signature))).toBe(true);
      expect(quorum[2]!.verify(statement, first.signature)).toBe(true);
      expect(quorum[2]!.verify(echoStatement('instance-a', 0, 3, new TextEncoder().encode('value')), first.signature)).toBe(false);
    });

    it('names a bad share (garbage, malformed length, a flipped bit, another signer\'s share) and still verifies good shares', () => {
      const good = shares(quorum, statement, [0, 1, 2, 3]);
      const flipped = good[1]!.share.slice();
      flipped[flipped.length - 1]! ^= 0x55;
      for (const bad of [new Uint8Array(good[1]!.share.length).fill(7), new Uint8Array([1, 2, 3]), flipped, good[2]!.share]) {
        const result = quorum[0]!.combine(statement, [good[0]!, { signer: 1, share: bad }, good[3]!]);
        expect(result).toEqual({ ok: false, code: 'BAD_SHARES', badSigners: [1] });
        expect(quorum[0]!.verifyShare(statement, { signer: 1, share: bad })).toBe(false);
      }
      expect(good.every((share) => quorum[1]!.verifyShare(statement, share))).toBe(true);
    });

    it('refuses a repeated signer id, an unknown signer id, and too few shares', () => {
      const good = shares(quorum, statement, [0, 1, 2]);
      expect(quorum[0]!.combine(statement, [good[0]!, good[1]!, good[1]!])).toEqual({ ok: false, code: 'REPEATED_SIGNER' });
      expect(quorum[0]!.combine(statement, [good[0]!, good[1]!, { signer: 9, share: good[2]!.share }])).toEqual({ ok: false, code: 'UNKNOWN_SIGNER' });
      expect(quorum[0]!.combine(statement, [good[0]!, good[1]!])).toEqual({ ok: false, code: 'TOO_FEW_SHARES' });
    });

    it('binds the session: shares signed for another instance, round or phase are bad shares here', () => {
      const others = [
        echoStatement('instance-b', 0, 2, new TextEncoder().encode('value')),
        echoStatement('instance-a', 1, 2, new TextEncoder().encode('value')),
        coinStatement('instance-a', 0, 'permute'),
      ];
      for (const other of others) {
        const result = quorum[0]!.combine(statement, [...shares(quorum, statement, [0, 1]), ...shares(quorum, other, [2])]);
        expect(result).toEqual({ ok: false, code: 'BAD_SHARES', badSigners: [2] });
      }
    });

    it('gives a coin that any f + 1 parties reveal alike', () => {
      const name = coinStatement('instance-a', 0, 'elect');
      const results = [[0, 1], [2, 3], [3, 0]].map((who) => coin[0]!.combine(name, shares(coin, name, who)));
      const signatures = results.map((result) => (result.ok ? Buffer.from(result.signature).toString('hex') : 'failed'));
      expect(new Set(signatures).size).toBe(1);
      expect(signatures[0]).not.toBe('failed');
    });
  });
}

describe('threshold BLS: the two libraries agree', () => {
  it('a combined 3-of-4 signature from blst-made shares verifies under noble with blst\'s ciphersuite tag', () => {
    const dealt = dealThresholdKeys({ parties: 4, threshold: 3 });
    const signers = dealt.secrets.map((secret, self) => new BlsThresholdSigner(dealt.publicKeys, self, secret));
    const message = new TextEncoder().encode('agree');
    const result = signers[0]!.combine(message, shares(signers, message, [1, 2, 3]));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const noble = bls12_381.longSignatures;
    const hashed = noble.hash(message, 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_');
    expect(noble.verify(result.signature, hashed, dealt.publicKeys.groupKey)).toBe(true);
  });

  it('refuses a secret share that does not match its share key', () => {
    const dealt = dealThresholdKeys({ parties: 4, threshold: 3 });
    expect(() => new BlsThresholdSigner(dealt.publicKeys, 0, dealt.secrets[1]!)).toThrow(/does not match/);
  });
});
