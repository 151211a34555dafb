/**
 * Byzantine strategies for the MVBA simulation. A Byzantine party runs the real core with its own real
 * keys (so it can take part convincingly) and its strategy rewrites, drops, duplicates or adds to what
 * that core sends; it also sends messages of its own. All Byzantine parties and the scheduler form one
 * adversary that sees every message in flight (`Adversary`), including coin shares, so it learns a coin
 * as soon as f + 1 shares of it have been sent, the earliest any real attacker could.
 */
import type { Rng } from '../../../runtime/rng.js';
import { coinBit, coinBytes, coinStatement, echoStatement } from '../../../actors/mvba/core/signing.js';
import type { MvbaMessage, PartyCrypto, PartyId, SignatureShare } from '../../../actors/mvba/core/types.js';

/** The names of the strategies; `honest` is not Byzantine and `crash` counts against f like the rest. */
export const strategyNames = [
  'crash', 'silence', 'equivocate', 'badShares', 'malformed', 'wrongSession', 'replay', 'duplicateVotes',
  'forgedCertificate', 'withhold', 'mitm',
] as const;

/** One Byzantine behaviour. */
export type StrategyName = (typeof strategyNames)[number];

/** A message to put on the network from the Byzantine party. */
export interface Outgoing {
  readonly to: PartyId;
  readonly message: unknown;
}

/** The coordinated adversary's knowledge: coin shares seen in flight, and the coins they reveal. */
export class Adversary {
  private readonly shares = new Map<string, SignatureShare[]>();
  private readonly coins = new Map<string, 0 | 1>();

  constructor(private readonly instance: string, private readonly coinKeys: PartyCrypto['coin']) {}

  /** Watches one message sent by `from` to anyone. */
  observe(from: PartyId, message: MvbaMessage): void {
    if (message.type !== 'mvba.coin' || !(message.share instanceof Uint8Array)) return;
    const key = `${message.round}/${message.name}`;
    if (this.coins.has(key)) return;
    const list = this.shares.get(key) ?? [];
    if (list.some((share) => share.signer === from)) return;
    const statement = coinStatement(this.instance, message.round, message.name);
    if (!this.coinKeys.verifyShare(statement, { signer: from, share: message.share })) return;
    list.push({ signer: from, share: message.share });
    this.shares.set(key, list);
    if (list.length >= this.coinKeys.threshold) {
      const result = this.coinKeys.combine(statement, list.slice(0, this.coinKeys.threshold));
      if (result.ok) this.coins.set(key, coinBit(coinBytes(result.signature)));
    }
  }

  /** The coin bit of ABBA `slot`'s round `abbaRound` in MVBA round `round`, once the adversary can know it. */
  abbaCoin(round: number, slot: number, abbaRound: number): 0 | 1 | null {
    return this.coins.get(`${round}/abba/${slot}/${abbaRound}`) ?? null;
  }
}

/** What a strategy may use: its identity, randomness, its own keys, the adversary, the clock of the run. */
export interface ByzantineContext {
  readonly self: PartyId;
  readonly parties: number;
  readonly instance: string;
  readonly rng: Rng;
  readonly crypto: PartyCrypto;
  readonly adversary: Adversary;
  readonly validValue: (tag: string) => Uint8Array;
  readonly invalidValue: (tag: string) => Uint8Array;
  step: number;
}

/** A strategy: how it treats each message its core sends, and what it sends on its own each step. */
export interface Strategy {
  readonly name: StrategyName;
  /** Whether the party still processes incoming messages (a crashed one does not). */
  alive(context: ByzantineContext): boolean;
  transform(context: ByzantineContext, to: PartyId, message: MvbaMessage): Outgoing[];
  spontaneous(context: ByzantineContext): Outgoing[];
}

function garbage(rng: Rng, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => rng.int(0, 255));
}

const pass = (to: PartyId, message: unknown): Outgoing[] => [{ to, message }];

/** Builds strategy `name` for one Byzantine party. */
export function makeStrategy(name: StrategyName, rng: Rng): Strategy {
  const base = { name, alive: () => true, spontaneous: () => [] as Outgoing[] };
  switch (name) {
    case 'crash': {
      const crashAt = rng.int(0, 400);
      return {
        ...base,
        alive: (context) => context.step < crashAt,
        transform: (context, to, message) => (context.step < crashAt ? pass(to, message) : []),
      };
    }
    case 'silence':
      return { ...base, transform: () => [] };
    case 'equivocate':
      return { ...base, transform: equivocate };
    case 'badShares':
      return { ...base, transform: badShares };
    case 'malformed':
      return { ...base, transform: (context, to, message) => [...pass(to, message), ...malformed(context, to, message)] };
    case 'wrongSession':
      return { ...base, transform: wrongSession };
    case 'replay':
      return replay(base);
    case 'duplicateVotes':
      return { ...base, transform: duplicateVotes };
    case 'forgedCertificate':
      return { ...base, transform: forgedCertificate };
    case 'withhold':
      return withhold(base, rng);
    case 'mitm':
      return { ...base, transform: mitm };
  }
}

/** Different proposals, votes and proofs to different parties. */
function equivocate(context: ByzantineContext, to: PartyId, message: MvbaMessage): Outgoing[] {
  const odd = to % 2 === 1;
  switch (message.type) {
    case 'mvba.send':
      return pass(to, odd ? { ...message, value: context.rng.next() < 0.5 ? context.validValue(`equivocation-${context.self}`) : context.invalidValue('equivocation') } : message);
    case 'mvba.bval':
    case 'mvba.aux':
    case 'mvba.term':
      return pass(to, odd ? { ...message, value: 1 - message.value } : message);
    case 'mvba.conf':
      return pass(to, odd ? { ...message, value: 3 } : message);
    case 'mvba.vote':
      return pass(to, odd ? { ...message, value: null, signature: null } : message);
    default:
      return pass(to, message);
  }
}

/** Shares and proofs that are garbage, truncated, or another party's. */
function badShares(context: ByzantineContext, to: PartyId, message: MvbaMessage): Outgoing[] {
  const { rng } = context;
  const corrupt = (bytes: Uint8Array): Uint8Array => {
    const pick = rng.int(0, 2);
    if (pick === 0) return garbage(rng, bytes.length);
    if (pick === 1) return bytes.slice(0, Math.max(1, bytes.length - 3));
    const flipped = bytes.slice();
    flipped[flipped.length - 1]! ^= 1;
    return flipped;
  };
  switch (message.type) {
    case 'mvba.echo':
    case 'mvba.coin':
      return pass(to, { ...message, share: corrupt(message.share) });
    case 'mvba.propose':
    case 'mvba.recommend':
    case 'mvba.found':
      return pass(to, { ...message, signature: corrupt(message.signature) });
    default:
      return pass(to, message);
  }
}

/** Messages of the wrong shape: missing or mistyped fields, out-of-range numbers, unknown types. */
function malformed(context: ByzantineContext, to: PartyId, message: MvbaMessage): Outgoing[] {
  const { rng } = context;
  if (rng.next() > 0.3) return [];
  const variants: unknown[] = [
    { ...message, round: -1 },
    { ...message, round: 1.5 },
    { ...message, type: 'mvba.unknown' },
    { ...message, instance: 7 },
    { ...message, slot: 10_000, abbaRound: 0, value: 5 },
    { type: 'mvba.bval', instance: context.instance, round: message.round, slot: 0, abbaRound: Number.MAX_SAFE_INTEGER, value: 1 },
    { type: 'mvba.conf', instance: context.instance, round: message.round, slot: 0, abbaRound: 0, value: 0 },
    { type: 'mvba.echo', instance: context.instance, round: message.round, proposer: to, share: 'not bytes' },
    { type: 'mvba.send', instance: context.instance, round: message.round, value: new Uint8Array(0) },
    { type: 'mvba.coin', instance: context.instance, round: message.round, name: 'abba/999999/1', share: garbage(rng, 8) },
    { type: 'mvba.coin', instance: context.instance, round: message.round, name: 'x'.repeat(500), share: garbage(rng, 8) },
    { type: 'mvba.fetch', instance: context.instance, round: message.round, proposer: 99 },
    [message],
    null,
    'mvba.send',
  ];
  return pass(to, variants[rng.int(0, variants.length - 1)]);
}

/** Genuine shares, signed with this party's real key, but for another instance, round or phase. */
function wrongSession(context: ByzantineContext, to: PartyId, message: MvbaMessage): Outgoing[] {
  const { crypto, instance, rng } = context;
  if (message.type === 'mvba.echo') {
    const statement = rng.next() < 0.5
      ? echoStatement(`${instance}-other`, message.round, message.proposer, context.validValue(`p${message.proposer}`))
      : echoStatement(instance, message.round + 1, message.proposer, context.validValue(`p${message.proposer}`));
    return pass(to, { ...message, share: crypto.quorum.signShare(statement) });
  }
  if (message.type === 'mvba.coin') {
    const statement = rng.next() < 0.5 ? coinStatement(`${instance}-other`, message.round, message.name) : coinStatement(instance, message.round + 1, message.name);
    return pass(to, { ...message, share: crypto.coin.signShare(statement) });
  }
  return pass(to, message);
}

/** Re-sends what it has seen later and elsewhere: to other parties, and relabelled to later rounds. */
function replay(base: { name: StrategyName; alive: () => boolean; spontaneous: () => Outgoing[] }): Strategy {
  const seen: MvbaMessage[] = [];
  return {
    ...base,
    transform: (context, to, message) => {
      if (seen.length < 400) seen.push(message);
      return pass(to, message);
    },
    spontaneous: (context) => {
      const { rng } = context;
      if (seen.length === 0 || rng.next() > 0.2) return [];
      const old = seen[rng.int(0, seen.length - 1)]!;
      const relabelled = rng.next() < 0.5 ? old
        : 'abbaRound' in old ? { ...old, abbaRound: old.abbaRound + 1 } : { ...old, round: old.round + 1 };
      return pass(rng.int(0, context.parties - 1), relabelled);
    },
  };
}

/** Every vote twice and both ways: BVAL and AUX for both values, CONF for every set, shares repeated. */
function duplicateVotes(context: ByzantineContext, to: PartyId, message: MvbaMessage): Outgoing[] {
  switch (message.type) {
    case 'mvba.bval':
    case 'mvba.aux':
    case 'mvba.term':
      return [...pass(to, message), ...pass(to, message), ...pass(to, { ...message, value: 1 - message.value }), ...pass(to, message)];
    case 'mvba.conf':
      return [...pass(to, message), ...pass(to, { ...message, value: 1 }), ...pass(to, { ...message, value: 2 }), ...pass(to, message)];
    default:
      return [...pass(to, message), ...pass(to, message), ...pass(to, message)];
  }
}

/**
 * Certificates it cannot have: a proof made of its own share alone (one signer standing for 2f + 1),
 * a recommendation of its own unproven value, and CKPS01 votes carrying such a proof.
 */
function forgedCertificate(context: ByzantineContext, to: PartyId, message: MvbaMessage): Outgoing[] {
  const value = context.validValue(`forged-${context.self}`);
  const forged = context.crypto.quorum.signShare(echoStatement(context.instance, message.round, context.self, value));
  const extra: Outgoing[] = [];
  if (message.type === 'mvba.send') {
    extra.push({ to, message: { type: 'mvba.propose', instance: context.instance, round: message.round, value, signature: forged } });
  }
  if (message.type === 'mvba.recommend' || message.type === 'mvba.send') {
    extra.push({ to, message: { type: 'mvba.recommend', instance: context.instance, round: message.round, proposer: context.self, value, signature: forged } });
  }
  if (message.type === 'mvba.vote') return pass(to, { ...message, value, signature: forged });
  return [...pass(to, message), ...extra];
}

/** Holds everything back, then releases it all at once at a random later moment. */
function withhold(base: { name: StrategyName; alive: () => boolean }, rng: Rng): Strategy {
  const held: Outgoing[] = [];
  const releaseAt = rng.int(50, 600);
  return {
    ...base,
    transform: (context, to, message) => {
      if (context.step >= releaseAt) return pass(to, message);
      held.push({ to, message });
      return [];
    },
    spontaneous: (context) => (context.step >= releaseAt ? held.splice(0) : []),
  };
}

/**
 * The man-in-the-middle schedule against ABBA's coin step: BVAL for both values to everyone, and AUX
 * and CONF chosen against the coin as soon as the adversary can know it (otherwise split by recipient),
 * so that, without the CONF phase, correct parties could be kept on opposite estimates.
 */
function mitm(context: ByzantineContext, to: PartyId, message: MvbaMessage): Outgoing[] {
  if (message.type === 'mvba.bval') return [...pass(to, { ...message, value: 0 }), ...pass(to, { ...message, value: 1 })];
  if (message.type === 'mvba.aux' || message.type === 'mvba.conf') {
    const coin = context.adversary.abbaCoin(message.round, message.slot, message.abbaRound);
    const against = coin === null ? to % 2 : 1 - coin;
    const value = message.type === 'mvba.aux' ? against : against === 0 ? 1 : 2;
    return pass(to, { ...message, value });
  }
  return pass(to, message);
}
