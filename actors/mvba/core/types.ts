/**
 * The plain-data vocabulary of the MVBA core: the threshold-cryptography interface it signs and verifies
 * through, the messages parties exchange, the inputs the host feeds in and the effects it gets back.
 * Messages are CBOR-encodable plain objects (strings, numbers, Uint8Array) with a `type` discriminator.
 * Every message names the instance (the session id); every signed byte string binds the instance, the
 * MVBA round, the phase and the proposer or coin name (see `signing.ts`), so nothing signed for one
 * instance, round or phase verifies in another.
 */

/** A party's index, 0 .. n - 1. The sender of a message is never read from its body: the host supplies it. */
export type PartyId = number;

/** One signature share: the signer's index and the share bytes. */
export interface SignatureShare {
  readonly signer: PartyId;
  readonly share: Uint8Array;
}

/** The result of combining shares into one threshold signature. */
export type CombineResult =
  | { readonly ok: true; readonly signature: Uint8Array }
  /** The combined signature did not verify; per-share checks found these signers' shares bad. */
  | { readonly ok: false; readonly code: 'BAD_SHARES'; readonly badSigners: readonly PartyId[] }
  /** The same signer appears twice, a signer is out of range, or there are fewer shares than the threshold. */
  | { readonly ok: false; readonly code: 'REPEATED_SIGNER' | 'UNKNOWN_SIGNER' | 'TOO_FEW_SHARES' };

/**
 * The public half of one (threshold, n) key set: anyone can check shares and signatures.
 * `combine` verifies the combined signature first and checks shares one by one only when that fails,
 * so the common case costs one verification however many shares there are.
 */
export interface ThresholdVerifier {
  readonly parties: number;
  readonly threshold: number;
  verifyShare(message: Uint8Array, share: SignatureShare): boolean;
  combine(message: Uint8Array, shares: readonly SignatureShare[]): CombineResult;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** One party's half of a key set: its own secret share. Signing is deterministic (BLS signatures are unique). */
export interface ThresholdSigner extends ThresholdVerifier {
  readonly self: PartyId;
  signShare(message: Uint8Array): Uint8Array;
}

/**
 * What a party holds: a (2f + 1)-of-n key set for proofs (quorum certificates) and an (f + 1)-of-n key
 * set whose unique combined signature is the common coin.
 */
export interface PartyCrypto {
  readonly quorum: ThresholdSigner;
  readonly coin: ThresholdSigner;
}

/** Which protocol an instance runs. */
export type MvbaProtocol = 'prioritized' | 'ckps01';

/** A proof that 2f + 1 parties echoed `value` for `proposer` in one round: the combined quorum signature. */
export interface Proof {
  readonly value: Uint8Array;
  readonly signature: Uint8Array;
}

interface Base {
  readonly instance: string;
  readonly round: number;
}

/** Broadcast: the proposer's value (pVCBC / VCBC send). */
export interface SendMessage extends Base { readonly type: 'mvba.send'; readonly value: Uint8Array }
/** Broadcast: a party's signature share over the proposer's value, sent to the proposer only. */
export interface EchoMessage extends Base { readonly type: 'mvba.echo'; readonly proposer: PartyId; readonly share: Uint8Array }
/** Broadcast: the proposer's value with its proof (pMVBA's Propose; CKPS01's VCBC final). */
export interface ProposeMessage extends Base { readonly type: 'mvba.propose'; readonly value: Uint8Array; readonly signature: Uint8Array }
/** Prioritized-MVBA's Recommend: one proven committee value every party passes on, once. */
export interface RecommendMessage extends Base {
  readonly type: 'mvba.recommend'; readonly proposer: PartyId; readonly value: Uint8Array; readonly signature: Uint8Array;
}
/** A share of a named common coin (`elect`, `permute`, `abba/<slot>/<abbaRound>`). */
export interface CoinMessage extends Base { readonly type: 'mvba.coin'; readonly name: string; readonly share: Uint8Array }
/** CKPS01's vote on a candidate before its ABBA: the candidate's proof if the voter holds one. */
export interface VoteMessage extends Base {
  readonly type: 'mvba.vote'; readonly slot: number; readonly value: Uint8Array | null; readonly signature: Uint8Array | null;
}
/** ABBA's BVAL, AUX, CONF (values bitmask: 1 = {0}, 2 = {1}, 3 = {0, 1}) and TERM messages. */
export interface AbbaMessage extends Base {
  readonly type: 'mvba.bval' | 'mvba.aux' | 'mvba.conf' | 'mvba.term';
  readonly slot: number;
  readonly abbaRound: number;
  readonly value: number;
}
/** A request for a candidate's proven value, after its ABBA decided 1 here without the proof. */
export interface FetchMessage extends Base { readonly type: 'mvba.fetch'; readonly proposer: PartyId }
/** The answer to a fetch. */
export interface FoundMessage extends Base {
  readonly type: 'mvba.found'; readonly proposer: PartyId; readonly value: Uint8Array; readonly signature: Uint8Array;
}

/** Every message of both protocols. */
export type MvbaMessage =
  | SendMessage | EchoMessage | ProposeMessage | RecommendMessage | CoinMessage | VoteMessage | AbbaMessage | FetchMessage
  | FoundMessage;

/** What the host feeds the core. */
export type MvbaInput =
  /** Propose `value` (the caller's own input; it must pass `validate`). */
  | { readonly type: 'start'; readonly value: Uint8Array }
  /** A message from `from`, the identity the host took from the authenticated link. */
  | { readonly type: 'message'; readonly from: PartyId; readonly message: unknown };

/** The decision: the value, the proposer whose proven value it is, and the MVBA round it was decided in. */
export interface Decision {
  readonly value: Uint8Array;
  readonly proposer: PartyId;
  readonly round: number;
}

/** What the host must do, in order. Messages to self are already handled inside the core. */
export type MvbaEffect =
  | { readonly type: 'send'; readonly to: PartyId; readonly message: MvbaMessage }
  | { readonly type: 'decide'; readonly decision: Decision };
