/**
 * Party key material: a (2f + 1)-of-n key set for proofs and an (f + 1)-of-n key set for the coin, dealt
 * together, and the JSON key file one party loads (`troupe mvba keygen` writes one per party).
 */
import { InvalidArgumentError } from '../../runtime/errors.js';
import { faultsTolerated } from './core/quorum.js';
import type { PartyCrypto, PartyId } from './core/types.js';
import { BlsThresholdSigner, dealThresholdKeys, type ThresholdPublicKeys } from './threshold-bls.js';
import { SimulatedThresholdSigner } from './threshold-simulated.js';
import { generateLinkKeys, linkKeysFrom, type LinkKeys } from './link-auth.js';

/** What one party's key file holds (hex strings in JSON). */
export interface PartyKeyFile {
  readonly format: 'troupe.mvba.keys.v1';
  readonly parties: number;
  readonly self: PartyId;
  readonly quorum: { readonly threshold: number; readonly groupKey: string; readonly shareKeys: readonly string[]; readonly secret: string };
  readonly coin: { readonly threshold: number; readonly groupKey: string; readonly shareKeys: readonly string[]; readonly secret: string };
  /** ed25519 link keys (DER): every party's public key and this party's secret key (link-auth.ts). */
  readonly link?: { readonly publicKeys: readonly string[]; readonly secret: string };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Uint8Array => {
  if (typeof text !== 'string' || !/^([0-9a-f]{2})*$/.test(text)) throw new InvalidArgumentError('a key file field is not lowercase hex');
  return new Uint8Array(Buffer.from(text, 'hex'));
};

/** Deals both key sets for `parties` parties and returns every party's key file. */
export function dealPartyKeys(parties: number, random?: (bytes: number) => Uint8Array): PartyKeyFile[] {
  const faults = faultsTolerated(parties);
  const quorum = dealThresholdKeys({ parties, threshold: 2 * faults + 1, random });
  const coin = dealThresholdKeys({ parties, threshold: faults + 1, random });
  const link = generateLinkKeys(parties);
  const half = (keys: ThresholdPublicKeys, secret: Uint8Array) => ({
    threshold: keys.threshold, groupKey: hex(keys.groupKey), shareKeys: keys.shareKeys.map(hex), secret: hex(secret),
  });
  return Array.from({ length: parties }, (_, self) => ({
    format: 'troupe.mvba.keys.v1', parties, self,
    quorum: half(quorum.publicKeys, quorum.secrets[self]!),
    coin: half(coin.publicKeys, coin.secrets[self]!),
    link: { publicKeys: link.publicKeys.map(hex), secret: hex(link.secrets[self]!) },
  }));
}

/** The threshold-BLS signers one key file describes; throws InvalidArgumentError on a malformed file. */
export function partyCryptoFromKeyFile(file: PartyKeyFile): PartyCrypto {
  if (file?.format !== 'troupe.mvba.keys.v1') throw new InvalidArgumentError('not a troupe.mvba.keys.v1 key file');
  const signer = (half: PartyKeyFile['quorum']) => new BlsThresholdSigner(
    { parties: file.parties, threshold: half.threshold, groupKey: unhex(half.groupKey), shareKeys: half.shareKeys.map(unhex) },
    file.self, unhex(half.secret),
  );
  return { quorum: signer(file.quorum), coin: signer(file.coin) };
}

/** The ed25519 link keys of a key file, or null for a file without them. */
export function linkKeysFromKeyFile(file: PartyKeyFile): LinkKeys | null {
  if (file.link === undefined) return null;
  if (file.link.publicKeys.length !== file.parties) throw new InvalidArgumentError('a key file needs one link key per party');
  return linkKeysFrom(file.self, unhex(file.link.secret), file.link.publicKeys.map(unhex));
}

/** The simulated (insecure, fast) key sets for party `self`; see threshold-simulated.ts. */
export function simulatedPartyCrypto(seed: string, parties: number, self: PartyId): PartyCrypto {
  const faults = faultsTolerated(parties);
  return {
    quorum: new SimulatedThresholdSigner(`${seed}/quorum`, parties, 2 * faults + 1, self),
    coin: new SimulatedThresholdSigner(`${seed}/coin`, parties, faults + 1, self),
  };
}
