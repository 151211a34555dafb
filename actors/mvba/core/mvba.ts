/**
 * Multi-valued validated Byzantine agreement, as a pure state machine: `step(state, input)` returns the
 * effects (sends and the decision) for the host to carry out. Two protocols share every building block
 * (broadcast with threshold-signed proofs, the threshold coin, ABBA, value retrieval):
 *
 * Prioritized-MVBA (Sony, Ding, Singhal, arXiv 2406.03739), per round r:
 *   1. Committee selection: each party releases its share of the coin `elect`; the coin picks f + 1
 *      parties (so at least one is honest).
 *   2. pVCBC: each committee member sends its value; a party echoes (signs) the first valid value of each
 *      committee member, to that member only; 2f + 1 echo shares combine into the value's proof.
 *   3. Propose-Recommend: the member sends (value, proof) to all; every party passes on the first proven
 *      value it learns as its one Recommend, and releases its share of the coin `permute` after n - f
 *      Recommends.
 *   4. The coin orders the committee; ABBA runs on each member in that order, with input 1 when the party
 *      holds the member's proof, until one decides 1: that member's proven value is the decision
 *      (fetched from a party that holds it when needed). If every ABBA decides 0, round r + 1 starts.
 *
 * CKPS01 (Cachin, Kursawe, Petzold, Shoup, CRYPTO 2001), the baseline, per round r: every party
 * broadcasts its value with a proof (VCBC); after n - f proofs a party releases its `permute` share; the
 * coin orders all n parties; for each candidate in order, parties exchange votes carrying the candidate's
 * proof when they hold it, then run ABBA with input 1 when they hold (or were sent) the proof.
 *
 * Invariants: agreement (correct parties decide the same value), external validity (a decided value
 * passes `validate`: its proof needs 2f + 1 echoes, so f + 1 correct parties validated it), integrity
 * (the decided value is the one its proposer proved), and termination with probability 1.
 * Every quorum counts a party once (`quorum.ts`); every signature binds instance, round and phase
 * (`signing.ts`); the sender of a message is the host's authenticated `from`, never a field of the body.
 */
import { assert } from '../../../runtime/errors.js';
import { newAbba, progressAbba, receiveAbba, startAbba, type Abba, type AbbaIo } from './abba.js';
import { parseMessage, type MessageLimits, type RefusalReason } from './decode.js';
import { faultsTolerated, recordOnce } from './quorum.js';
import { addShare, newShareCollector, type ShareCollector } from './shares.js';
import { coinBit, coinBytes, coinStatement, echoStatement, permutation } from './signing.js';
import type {
  Decision, MvbaEffect, MvbaInput, MvbaMessage, MvbaProtocol, PartyCrypto, PartyId, Proof,
} from './types.js';

/** Bounds on what one instance accepts and keeps; each says what happens at the bound. */
export interface MvbaLimits {
  /** A larger value in any message refuses the message. */
  readonly valueBytesMax: number;
  /** A larger share or signature refuses the message. */
  readonly shareBytesMax: number;
  /** Messages for an MVBA round further ahead than this are refused (memory held for others is bounded). */
  readonly roundsAheadMax: number;
  /** ABBA messages further ahead of the local ABBA round than this are refused. */
  readonly abbaRoundsAheadMax: number;
}

/** The default limits: 1 MiB values, 256-byte shares, 16 rounds and 64 ABBA rounds of look-ahead. */
export const defaultMvbaLimits: MvbaLimits = { valueBytesMax: 1 << 20, shareBytesMax: 256, roundsAheadMax: 16, abbaRoundsAheadMax: 64 };

/** One instance's configuration. `validate` must be deterministic: every correct party judges alike. */
export interface MvbaConfig {
  readonly instance: string;
  readonly protocol: MvbaProtocol;
  readonly parties: number;
  readonly self: PartyId;
  readonly crypto: PartyCrypto;
  readonly validate: (value: Uint8Array) => boolean;
  readonly limits?: Partial<MvbaLimits>;
  /** How many initial ABBA rounds use the fixed coins 1, 0 (0, 1 or 2; default 2). */
  readonly fixedCoinRounds?: number;
}

interface VoteState {
  sent: boolean;
  readonly voters: PartyId[];
  /** Proofs carried by votes, checked once the coin names the slot's candidate. */
  readonly proofs: { from: PartyId; proof: Proof }[];
}

/** Everything one party knows about one MVBA round. */
interface RoundState {
  readonly round: number;
  committee: PartyId[] | null;
  /** The first value each proposer sent here, and the proposers already echoed (or refused). */
  readonly values: Map<PartyId, Uint8Array>;
  readonly echoed: PartyId[];
  sentOwn: Uint8Array | null;
  readonly ownEchoes: ShareCollector;
  readonly proofs: Map<PartyId, Proof>;
  /** Proof-bearing messages already examined, `type/from/proposer`: each costs at most one verification. */
  readonly examined: Set<string>;
  recommended: boolean;
  readonly recommenders: PartyId[];
  order: PartyId[] | null;
  slot: number;
  readonly coins: Map<string, ShareCollector>;
  readonly coinsReleased: Set<string>;
  readonly abbas: Map<number, Abba>;
  readonly votes: Map<number, VoteState>;
  readonly fetchesSent: Set<PartyId>;
  readonly fetches: { from: PartyId; proposer: PartyId }[];
  readonly fetchesAnswered: Set<string>;
}

/** One party's state in one instance. */
export interface MvbaState {
  readonly config: MvbaConfig;
  readonly limits: MvbaLimits;
  readonly parties: number;
  readonly faults: number;
  input: Uint8Array | null;
  round: number;
  readonly rounds: Map<number, RoundState>;
  decision: Decision | null;
  readonly refused: Record<RefusalReason, number>;
}

/** A fresh instance. Asserts n >= 3f + 1 with f >= 0 and a party index in range. */
export function newMvba(config: MvbaConfig): MvbaState {
  assert(Number.isSafeInteger(config.parties) && config.parties >= 1, 'an instance needs at least one party');
  assert(config.self >= 0 && config.self < config.parties, 'self must be a party index');
  assert(config.crypto.quorum.threshold === 2 * faultsTolerated(config.parties) + 1, 'proofs need a (2f + 1)-of-n key set');
  assert(config.crypto.coin.threshold === faultsTolerated(config.parties) + 1, 'the coin needs an (f + 1)-of-n key set');
  const limits = { ...defaultMvbaLimits, ...config.limits };
  return {
    config, limits, parties: config.parties, faults: faultsTolerated(config.parties), input: null, round: 0,
    rounds: new Map(), decision: null,
    refused: { malformed: 0, wrongInstance: 0, tooFarAhead: 0, notExpected: 0, badProof: 0, invalidValue: 0 },
  };
}

interface Context {
  readonly state: MvbaState;
  readonly effects: MvbaEffect[];
  readonly queue: { from: PartyId; message: unknown }[];
}

/** Feeds one input to the instance and returns the effects, in order. Messages to self are handled here. */
export function step(state: MvbaState, input: MvbaInput): { state: MvbaState; effects: MvbaEffect[] } {
  const context: Context = { state, effects: [], queue: [] };
  if (input.type === 'start') {
    assert(state.config.validate(input.value), 'a party proposes only a value that passes validate');
    if (state.input === null) state.input = input.value;
    progress(context);
  } else {
    context.queue.push({ from: input.from, message: input.message });
  }
  while (context.queue.length > 0) {
    const next = context.queue.shift()!;
    handle(context, next.from, next.message);
    progress(context);
  }
  return { state, effects: context.effects };
}

function slotCount(state: MvbaState): number {
  return state.config.protocol === 'prioritized' ? state.faults + 1 : state.parties;
}

function roundOf(state: MvbaState, round: number): RoundState {
  let found = state.rounds.get(round);
  if (found === undefined) {
    const everyone = Array.from({ length: state.parties }, (_, index) => index);
    found = {
      round, committee: state.config.protocol === 'ckps01' ? everyone : null, values: new Map(), echoed: [], sentOwn: null,
      ownEchoes: newShareCollector(), proofs: new Map(), examined: new Set(), recommended: false, recommenders: [],
      order: null, slot: 0, coins: new Map(), coinsReleased: new Set(), abbas: new Map(), votes: new Map(),
      fetchesSent: new Set(), fetches: [], fetchesAnswered: new Set(),
    };
    state.rounds.set(round, found);
  }
  return found;
}

function broadcast(context: Context, message: MvbaMessage): void {
  const { state } = context;
  for (let party = 0; party < state.parties; party += 1) {
    if (party !== state.config.self) context.effects.push({ type: 'send', to: party, message });
  }
  context.queue.push({ from: state.config.self, message });
}

function sendTo(context: Context, to: PartyId, message: MvbaMessage): void {
  if (to === context.state.config.self) context.queue.push({ from: to, message });
  else context.effects.push({ type: 'send', to, message });
}

function refuse(state: MvbaState, reason: RefusalReason): void {
  state.refused[reason] += 1;
}

function messageLimits(state: MvbaState): MessageLimits {
  return {
    parties: state.parties, valueBytesMax: state.limits.valueBytesMax, shareBytesMax: state.limits.shareBytesMax,
    instanceLengthMax: 256, coinNameLengthMax: 32, roundMax: Number.MAX_SAFE_INTEGER, slotMax: slotCount(state) - 1,
    abbaRoundMax: Number.MAX_SAFE_INTEGER,
  };
}

function handle(context: Context, from: PartyId, raw: unknown): void {
  const { state } = context;
  const parsed = parseMessage(raw, state.config.instance, messageLimits(state));
  if (!parsed.ok) return refuse(state, parsed.reason);
  const message = parsed.message;
  if (message.round > state.round + state.limits.roundsAheadMax) return refuse(state, 'tooFarAhead');
  const round = roundOf(state, message.round);
  switch (message.type) {
    case 'mvba.send':
      if (!round.values.has(from)) round.values.set(from, message.value);
      return;
    case 'mvba.echo':
      return receiveEcho(context, round, from, message.proposer, message.share);
    case 'mvba.propose':
      acceptProof(context, round, message.type, from, from, message);
      return;
    case 'mvba.recommend':
      if (state.config.protocol !== 'prioritized') return refuse(state, 'notExpected');
      if (acceptProof(context, round, message.type, from, message.proposer, message)) recordOnce(round.recommenders, from);
      return;
    case 'mvba.found':
      acceptProof(context, round, message.type, from, message.proposer, message);
      return;
    case 'mvba.coin':
      return receiveCoin(context, round, from, message.name, message.share);
    case 'mvba.vote':
      return receiveVote(state, round, from, message.slot, message.value, message.signature);
    case 'mvba.fetch':
      if (round.fetches.length < state.parties * slotCount(state) && !round.fetches.some((entry) => entry.from === from && entry.proposer === message.proposer)) {
        round.fetches.push({ from, proposer: message.proposer });
      }
      return;
    default:
      return receiveAbbaMessage(context, round, from, message);
  }
}

function receiveEcho(context: Context, round: RoundState, from: PartyId, proposer: PartyId, share: Uint8Array): void {
  const { state } = context;
  const self = state.config.self;
  if (proposer !== self || round.sentOwn === null) return refuse(state, 'notExpected');
  const statement = echoStatement(state.config.instance, round.round, self, round.sentOwn);
  if (addShare(round.ownEchoes, { signer: from, share }, state.config.crypto.quorum, statement)) {
    const proof = { value: round.sentOwn, signature: round.ownEchoes.signature! };
    round.proofs.set(self, proof);
    broadcast(context, { type: 'mvba.propose', instance: state.config.instance, round: round.round, ...proof });
  }
}

/** Verifies a proof-bearing message once per (type, sender, proposer); returns whether the proof holds. */
function acceptProof(context: Context, round: RoundState, type: string, from: PartyId, proposer: PartyId, proof: Proof): boolean {
  const { state } = context;
  const known = round.proofs.get(proposer);
  if (known !== undefined && sameProof(known, proof)) return true;
  const key = `${type}/${from}/${proposer}`;
  if (round.examined.has(key)) return false;
  round.examined.add(key);
  if (!checkProof(state, round, proposer, proof)) return false;
  if (known === undefined) round.proofs.set(proposer, { value: proof.value, signature: proof.signature });
  return true;
}

function sameProof(first: Proof, second: Proof): boolean {
  return equalBytes(first.value, second.value) && equalBytes(first.signature, second.signature);
}

function equalBytes(first: Uint8Array, second: Uint8Array): boolean {
  return first.length === second.length && first.every((byte, index) => byte === second[index]);
}

function checkProof(state: MvbaState, round: RoundState, proposer: PartyId, proof: Proof): boolean {
  if (!state.config.validate(proof.value)) {
    refuse(state, 'invalidValue');
    return false;
  }
  const statement = echoStatement(state.config.instance, round.round, proposer, proof.value);
  if (!state.config.crypto.quorum.verify(statement, proof.signature)) {
    refuse(state, 'badProof');
    return false;
  }
  return true;
}

/** A coin name this round can use: `elect` (Prioritized-MVBA only), `permute`, `abba/<slot>/<abbaRound>`. */
function coinTarget(state: MvbaState, round: RoundState, name: string): { slot: number; abbaRound: number } | 'plain' | null {
  if (name === 'permute' || (name === 'elect' && state.config.protocol === 'prioritized')) return 'plain';
  const match = /^abba\/(\d{1,4})\/(\d{1,9})$/.exec(name);
  if (match === null) return null;
  const slot = Number(match[1]);
  const abbaRound = Number(match[2]);
  if (slot >= slotCount(state)) return null;
  if (abbaRound > abbaOf(round, slot).round + state.limits.abbaRoundsAheadMax) return null;
  return { slot, abbaRound };
}

function receiveCoin(context: Context, round: RoundState, from: PartyId, name: string, share: Uint8Array): void {
  const { state } = context;
  const target = coinTarget(state, round, name);
  if (target === null) return refuse(state, 'notExpected');
  let collector = round.coins.get(name);
  if (collector === undefined) {
    collector = newShareCollector();
    round.coins.set(name, collector);
  }
  const statement = coinStatement(state.config.instance, round.round, name);
  if (addShare(collector, { signer: from, share }, state.config.crypto.coin, statement) && target !== 'plain') {
    progressAbba(abbaOf(round, target.slot), abbaIo(context, round, target.slot));
  }
}

function coinValue(round: RoundState, name: string): Uint8Array | null {
  const signature = round.coins.get(name)?.signature ?? null;
  return signature === null ? null : coinBytes(signature);
}

function releaseCoin(context: Context, round: RoundState, name: string): void {
  if (round.coinsReleased.has(name)) return;
  round.coinsReleased.add(name);
  const { config } = context.state;
  const share = config.crypto.coin.signShare(coinStatement(config.instance, round.round, name));
  broadcast(context, { type: 'mvba.coin', instance: config.instance, round: round.round, name, share });
}

function votesOf(round: RoundState, slot: number): VoteState {
  let votes = round.votes.get(slot);
  if (votes === undefined) {
    votes = { sent: false, voters: [], proofs: [] };
    round.votes.set(slot, votes);
  }
  return votes;
}

function receiveVote(state: MvbaState, round: RoundState, from: PartyId, slot: number, value: Uint8Array | null, signature: Uint8Array | null): void {
  if (state.config.protocol !== 'ckps01') return refuse(state, 'notExpected');
  const votes = votesOf(round, slot);
  if (!recordOnce(votes.voters, from)) return;
  // The candidate is known only once the coin orders the parties; its proof is checked then.
  if (value !== null && signature !== null) votes.proofs.push({ from, proof: { value, signature } });
}

function abbaOf(round: RoundState, slot: number): Abba {
  let abba = round.abbas.get(slot);
  if (abba === undefined) {
    abba = newAbba(slot);
    round.abbas.set(slot, abba);
  }
  return abba;
}

/** The coin values of ABBA rounds 0 and 1. */
const fixedCoins: readonly (0 | 1)[] = [1, 0];

function abbaIo(context: Context, round: RoundState, slot: number): AbbaIo {
  const { state } = context;
  const name = (abbaRound: number): string => `abba/${slot}/${abbaRound}`;
  const fixed = Math.min(state.config.fixedCoinRounds ?? fixedCoins.length, fixedCoins.length);
  return {
    parties: state.parties,
    faults: state.faults,
    send: (type, abbaRound, value) => broadcast(context, { type, instance: state.config.instance, round: round.round, slot, abbaRound, value }),
    // The first two ABBA rounds use fixed coins, 1 then 0 (safety never rests on the coin; termination
    // needs it unpredictable only eventually): unanimous input 1 then decides in round 0, without any
    // coin shares. Rounds from 2 on use the threshold coin.
    releaseCoin: (abbaRound) => {
      if (abbaRound >= fixed) releaseCoin(context, round, name(abbaRound));
    },
    coin: (abbaRound) => {
      if (abbaRound < fixed) return fixedCoins[abbaRound]!;
      const coin = coinValue(round, name(abbaRound));
      return coin === null ? null : coinBit(coin);
    },
  };
}

function receiveAbbaMessage(context: Context, round: RoundState, from: PartyId, message: MvbaMessage): void {
  if (message.type !== 'mvba.bval' && message.type !== 'mvba.aux' && message.type !== 'mvba.conf' && message.type !== 'mvba.term') return;
  const abba = abbaOf(round, message.slot);
  if (message.type !== 'mvba.term' && message.abbaRound > abba.round + context.state.limits.abbaRoundsAheadMax) {
    return refuse(context.state, 'tooFarAhead');
  }
  receiveAbba(abba, from, message.type, message.abbaRound, message.value, abbaIo(context, round, message.slot));
}

/** Takes every step the messages so far allow, for the current round. */
function progress(context: Context): void {
  const { state } = context;
  for (const round of state.rounds.values()) {
    echoPending(context, round);
    answerFetches(context, round);
  }
  if (state.decision !== null) return;
  const round = roundOf(state, state.round);
  const { config } = state;
  if (round.committee === null) {
    releaseCoin(context, round, 'elect');
    const coin = coinValue(round, 'elect');
    if (coin === null) return;
    const everyone = Array.from({ length: state.parties }, (_, index) => index);
    round.committee = permutation(coin, 'committee', everyone).slice(0, state.faults + 1);
    echoPending(context, round);
  }
  if (round.sentOwn === null && state.input !== null && round.committee.includes(config.self)) {
    round.sentOwn = state.input;
    broadcast(context, { type: 'mvba.send', instance: config.instance, round: round.round, value: state.input });
  }
  if (config.protocol === 'prioritized' && !round.recommended && round.proofs.size > 0) {
    round.recommended = true;
    const [proposer, proof] = round.proofs.entries().next().value as [PartyId, Proof];
    broadcast(context, { type: 'mvba.recommend', instance: config.instance, round: round.round, proposer, ...proof });
  }
  // A party moves to the candidate order only once it is ready itself (n - f Recommends, or n - f proofs
  // for CKPS01), even if f + 1 others already revealed the coin: its ABBA inputs rest on what it holds.
  const ready = config.protocol === 'prioritized' ? round.recommenders.length : round.proofs.size;
  if (ready < state.parties - state.faults) return;
  releaseCoin(context, round, 'permute');
  if (round.order === null) {
    const coin = coinValue(round, 'permute');
    if (coin === null) return;
    round.order = permutation(coin, 'order', round.committee);
  }
  runSlots(context, round);
}

function echoPending(context: Context, round: RoundState): void {
  if (round.committee === null) return;
  const { config } = context.state;
  for (const [proposer, value] of round.values) {
    if (round.echoed.includes(proposer)) continue;
    round.echoed.push(proposer);
    if (!round.committee.includes(proposer) || !config.validate(value)) continue;
    const share = config.crypto.quorum.signShare(echoStatement(config.instance, round.round, proposer, value));
    sendTo(context, proposer, { type: 'mvba.echo', instance: config.instance, round: round.round, proposer, share });
  }
}

function answerFetches(context: Context, round: RoundState): void {
  const { config } = context.state;
  for (const { from, proposer } of round.fetches) {
    const proof = round.proofs.get(proposer);
    const key = `${from}/${proposer}`;
    if (proof === undefined || round.fetchesAnswered.has(key)) continue;
    round.fetchesAnswered.add(key);
    sendTo(context, from, { type: 'mvba.found', instance: config.instance, round: round.round, proposer, ...proof });
  }
}

/** Runs the ABBA of each candidate in coin order until one decides 1, or starts the next round. */
function runSlots(context: Context, round: RoundState): void {
  const { state } = context;
  const { config } = state;
  const order = round.order!;
  while (state.decision === null) {
    const slot = round.slot;
    const candidate = order[slot]!;
    const abba = abbaOf(round, slot);
    if (config.protocol === 'ckps01' && !collectVotes(context, round, slot, candidate)) return;
    if (abba.decided === null && !abba.started) startAbba(abba, round.proofs.has(candidate) ? 1 : 0, abbaIo(context, round, slot));
    if (abba.decided === null) return;
    if (abba.decided === 1) {
      const proof = round.proofs.get(candidate);
      if (proof === undefined) {
        if (!round.fetchesSent.has(candidate)) {
          round.fetchesSent.add(candidate);
          broadcast(context, { type: 'mvba.fetch', instance: config.instance, round: round.round, proposer: candidate });
        }
        return;
      }
      state.decision = { value: proof.value, proposer: candidate, round: round.round };
      context.effects.push({ type: 'decide', decision: state.decision });
      return;
    }
    round.slot += 1;
    if (round.slot === order.length) {
      state.round += 1;
      progress(context);
      return;
    }
  }
}

/** CKPS01's vote step; returns true once n - f votes are in (and any proof among them adopted). */
function collectVotes(context: Context, round: RoundState, slot: number, candidate: PartyId): boolean {
  const { state } = context;
  const votes = votesOf(round, slot);
  if (!votes.sent) {
    votes.sent = true;
    const proof = round.proofs.get(candidate);
    broadcast(context, {
      type: 'mvba.vote', instance: state.config.instance, round: round.round, slot,
      value: proof?.value ?? null, signature: proof?.signature ?? null,
    });
  }
  for (const { from, proof } of votes.proofs.splice(0)) acceptProof(context, round, `mvba.vote/${slot}`, from, candidate, proof);
  return votes.voters.length >= state.parties - state.faults;
}
