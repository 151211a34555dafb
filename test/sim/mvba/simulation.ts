/**
 * The MVBA simulation: the real core (`actors/mvba/core`) at every party, over a seeded asynchronous
 * network whose scheduler picks every delivery (order and delay) and must only deliver every message
 * between correct parties eventually, with up to f Byzantine parties (byzantine.ts) and honest parties
 * that crash and recover by replaying their durable input log, as the actor shell does.
 *
 * After every run: agreement (all correct parties decide the same value and proposer), external validity
 * (the decision passes `validate`), integrity (a correct proposer's decided value is its own input),
 * termination within `deliveriesMax` deliveries, and the decision's proposer is recorded (quality).
 * Most seeds use the simulated threshold scheme; `crypto: 'bls'` runs the same code on threshold BLS.
 */
import { createRng, type Rng } from '../../../runtime/rng.js';
import { newMvba, step, type MvbaState } from '../../../actors/mvba/core/mvba.js';
import { faultsTolerated } from '../../../actors/mvba/core/quorum.js';
import type { Decision, MvbaEffect, MvbaInput, MvbaMessage, MvbaProtocol, PartyCrypto, PartyId } from '../../../actors/mvba/core/types.js';
import { dealPartyKeys, partyCryptoFromKeyFile, simulatedPartyCrypto } from '../../../actors/mvba/keys.js';
import { Adversary, makeStrategy, strategyNames, type ByzantineContext, type Strategy, type StrategyName } from './byzantine.js';

/** How the scheduler treats messages. */
export type SchedulerName = 'random' | 'adversarial' | 'mitm' | 'split';

/** Everything one run is made of; `optionsFromSeed` draws them from the seed. */
export interface RunOptions {
  readonly seed: number;
  readonly parties: number;
  readonly protocol: MvbaProtocol;
  readonly crypto: 'simulated' | 'bls';
  readonly byzantine: readonly { readonly party: PartyId; readonly strategy: StrategyName }[];
  readonly scheduler: SchedulerName;
  /** Correct parties that crash once and recover by replaying their input log. */
  readonly restarts: readonly PartyId[];
  readonly deliveriesMax: number;
  /** ABBA rounds on fixed coins before the threshold coin (the core's default is 2). */
  readonly fixedCoinRounds: number;
}

/** What one run measured. */
export interface RunReport {
  readonly options: RunOptions;
  readonly deliveries: number;
  readonly messages: number;
  readonly decision: Decision;
  readonly honestProposer: boolean;
  readonly messageTypes: Record<string, number>;
  readonly refused: Record<string, number>;
}

/** An invariant broke; the message names the seed that replays it. */
export class SimulationFailure extends Error {}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The simulation's external-validity predicate: values start with `ok:`. */
export function validateValue(value: Uint8Array): boolean {
  return value.length >= 3 && value[0] === 0x6f && value[1] === 0x6b && value[2] === 0x3a;
}

/** Draws a run from `seed`: n in {4, 7}, either protocol, up to f Byzantine parties, a scheduler. */
export function optionsFromSeed(seed: number, overrides: Partial<RunOptions> = {}): RunOptions {
  const rng = createRng(seed ^ 0x5eed);
  const parties = overrides.parties ?? (rng.next() < 0.8 ? 4 : 7);
  const faults = faultsTolerated(parties);
  const protocol: MvbaProtocol = rng.next() < 0.6 ? 'prioritized' : 'ckps01';
  const order = shuffle(rng, Array.from({ length: parties }, (_, index) => index));
  const byzantineCount = rng.int(0, faults);
  const byzantine = order.slice(0, byzantineCount).map((party) => ({ party, strategy: strategyNames[rng.int(0, strategyNames.length - 1)]! }));
  const honest = order.slice(byzantineCount);
  const restarts = rng.next() < 0.2 ? [honest[0]!] : [];
  const schedulerPick = rng.next();
  const scheduler: SchedulerName = byzantine.some((entry) => entry.strategy === 'mitm') || schedulerPick < 0.15 ? 'mitm'
    : schedulerPick < 0.4 ? 'adversarial' : schedulerPick < 0.6 ? 'split' : 'random';
  const fixedCoinRounds = rng.next() < 0.7 ? 2 : 0;
  return {
    seed, parties, protocol, crypto: 'simulated', byzantine, scheduler, restarts, deliveriesMax: 60_000 * (parties / 4) ** 2, fixedCoinRounds,
    ...overrides,
  };
}

function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let index = items.length - 1; index > 0; index -= 1) {
    const pick = rng.int(0, index);
    [items[index], items[pick]] = [items[pick]!, items[index]!];
  }
  return items;
}

interface Envelope {
  readonly from: PartyId;
  readonly to: PartyId;
  readonly input: MvbaInput;
  readonly born: number;
}

interface Party {
  readonly id: PartyId;
  readonly crypto: PartyCrypto;
  core: MvbaState;
  /** The durable input log a restarted party replays. */
  readonly log: MvbaInput[];
  readonly strategy: Strategy | null;
  readonly context: ByzantineContext | null;
  decision: Decision | null;
  downUntil: number;
  crashAt: number;
}

/** Runs one simulation and checks every invariant; throws SimulationFailure naming the seed. */
export function runSimulation(options: RunOptions): RunReport {
  const world = new World(options);
  return world.run();
}

class World {
  private readonly rng: Rng;
  private readonly instance: string;
  private readonly parties: Party[];
  private readonly pool: Envelope[] = [];
  private readonly adversary: Adversary;
  private readonly victims: Set<PartyId>;
  private readonly delayMax: number;
  private deliveries = 0;
  private messages = 0;
  private readonly messageTypes: Record<string, number> = {};

  constructor(private readonly options: RunOptions) {
    this.rng = createRng(options.seed);
    this.instance = `sim-${options.seed}`;
    const cryptos = this.keys();
    const byzantine = new Map(options.byzantine.map((entry) => [entry.party, entry.strategy]));
    this.adversary = new Adversary(this.instance, cryptos[0]!.coin);
    this.parties = cryptos.map((crypto, id) => {
      const strategyName = byzantine.get(id);
      const strategy = strategyName === undefined ? null : makeStrategy(strategyName, createRng(options.seed + id * 7919));
      const context: ByzantineContext | null = strategy === null ? null : {
        self: id, parties: options.parties, instance: this.instance, rng: createRng(options.seed ^ (id + 1) * 0x9e3779b9),
        crypto, adversary: this.adversary, step: 0,
        validValue: (tag) => encoder.encode(`ok:${options.seed}:${id}:${tag}`),
        invalidValue: (tag) => encoder.encode(`bad:${options.seed}:${id}:${tag}`),
      };
      const restarting = options.restarts.includes(id);
      return {
        id, crypto, core: this.newCore(id, crypto), log: [], strategy, context, decision: null, downUntil: -1,
        crashAt: restarting ? this.rng.int(0, 300) : Number.POSITIVE_INFINITY,
      };
    });
    const honest = this.parties.filter((party) => party.strategy === null).map((party) => party.id);
    this.victims = new Set(shuffle(this.rng, honest).slice(0, options.scheduler === 'mitm' ? 1 : this.rng.int(1, faultsTolerated(options.parties) || 1)));
    this.delayMax = this.rng.int(50, 800);
  }

  private keys(): PartyCrypto[] {
    const { parties, seed } = this.options;
    if (this.options.crypto === 'simulated') return Array.from({ length: parties }, (_, self) => simulatedPartyCrypto(`seed-${seed}`, parties, self));
    const rng = createRng(seed ^ 0xb15);
    const files = dealPartyKeys(parties, (bytes) => Uint8Array.from({ length: bytes }, () => rng.int(0, 255)));
    return files.map(partyCryptoFromKeyFile);
  }

  private newCore(id: PartyId, crypto: PartyCrypto): MvbaState {
    const { protocol, parties, fixedCoinRounds } = this.options;
    return newMvba({ instance: this.instance, protocol, parties, self: id, crypto, validate: validateValue, fixedCoinRounds });
  }

  run(): RunReport {
    for (const party of this.parties) {
      const value = encoder.encode(`ok:${this.options.seed}:${party.id}`);
      this.pool.push({ from: party.id, to: party.id, input: { type: 'start', value }, born: 0 });
    }
    while (!this.allCorrectDecided()) {
      if (this.deliveries >= this.options.deliveriesMax) this.fail(`no decision at every correct party after ${this.deliveries} deliveries`);
      for (const party of this.parties) {
        if (party.strategy !== null) {
          party.context!.step = this.deliveries;
          for (const out of party.strategy.spontaneous(party.context!)) this.post(party.id, out.to, out.message);
        }
        if (this.deliveries === party.crashAt) this.crash(party);
      }
      const index = this.pick();
      if (index < 0) this.fail(`the network ran dry before every correct party decided (${this.deliveries} deliveries)`);
      const envelope = this.pool[index]!;
      this.pool[index] = this.pool[this.pool.length - 1]!;
      this.pool.pop();
      this.deliveries += 1;
      this.deliver(envelope);
    }
    return this.report();
  }

  private correct(): Party[] {
    return this.parties.filter((party) => party.strategy === null);
  }

  private allCorrectDecided(): boolean {
    return this.correct().every((party) => party.decision !== null);
  }

  private crash(party: Party): void {
    party.downUntil = this.deliveries + this.rng.int(1, 300);
  }

  private recover(party: Party): void {
    // Recovery is replay: a fresh core fed the durable input log reaches the same state, and whatever it
    // sends again is a duplicate every receiver ignores.
    party.core = this.newCore(party.id, party.crypto);
    const log = party.log.splice(0);
    for (const input of log) this.apply(party, input);
  }

  private pick(): number {
    const { pool } = this;
    if (pool.length === 0) return -1;
    const available = (envelope: Envelope): boolean => this.parties[envelope.to]!.downUntil <= this.deliveries;
    if (this.options.scheduler !== 'random') {
      for (let index = 0; index < pool.length; index += 1) {
        if (this.deliveries - pool[index]!.born > this.delayMax && available(pool[index]!)) return index;
      }
    }
    for (let attempt = 0; attempt < 32; attempt += 1) {
      const index = this.rng.int(0, pool.length - 1);
      const envelope = pool[index]!;
      if (!available(envelope)) continue;
      if (this.held(envelope) && attempt < 24) continue;
      return index;
    }
    const fallback = pool.findIndex(available);
    if (fallback >= 0) return fallback;
    // Every message waits for a party that is down: let time pass until it recovers.
    const next = Math.min(...this.parties.map((party) => (party.downUntil > this.deliveries ? party.downUntil : Number.POSITIVE_INFINITY)));
    if (!Number.isFinite(next)) return -1;
    this.deliveries = next;
    return pool.findIndex(available);
  }

  /** Whether the scheduler prefers to delay this message (it still delivers it once it is old enough). */
  private held(envelope: Envelope): boolean {
    if (this.options.scheduler === 'random' || envelope.input.type !== 'message') return false;
    const message = envelope.input.message as MvbaMessage;
    if (this.options.scheduler === 'split') return this.splitHeld(envelope, message);
    if (this.options.scheduler === 'adversarial') {
      const fromByzantine = this.parties[envelope.from]!.strategy !== null;
      return !fromByzantine && (this.victims.has(envelope.to) || this.victims.has(envelope.from));
    }
    // The man-in-the-middle schedule: keep from the victim every ABBA message that agrees with the coin.
    if (!this.victims.has(envelope.to) || typeof message !== 'object' || message === null) return false;
    if (message.type !== 'mvba.bval' && message.type !== 'mvba.aux' && message.type !== 'mvba.conf') return false;
    const coin = this.adversary.abbaCoin(message.round, message.slot, message.abbaRound);
    if (coin === null) return message.type !== 'mvba.bval';
    return message.type === 'mvba.conf' ? (message.value & (coin === 0 ? 1 : 2)) !== 0 : message.value === coin;
  }

  /**
   * The split schedule: each proposer's proof reaches only half the parties promptly (the rest get it
   * late), so parties enter each ABBA with different inputs; ABBAs then decide 0, later rounds start,
   * and parties that decided 1 without the proof must fetch it.
   */
  private splitHeld(envelope: Envelope, message: MvbaMessage): boolean {
    if (typeof message !== 'object' || message === null) return false;
    let proposer: number | null = null;
    if (message.type === 'mvba.propose' || message.type === 'mvba.recommend' || message.type === 'mvba.found') {
      proposer = message.type === 'mvba.propose' ? envelope.from : message.proposer;
    } else if (message.type === 'mvba.vote' && message.value !== null) proposer = message.slot;
    if (proposer === null) return false;
    return (envelope.to + proposer + message.round) % 2 === 0;
  }

  private deliver(envelope: Envelope): void {
    const party = this.parties[envelope.to]!;
    if (party.downUntil >= 0 && party.downUntil <= this.deliveries) {
      party.downUntil = -1;
      party.crashAt = Number.POSITIVE_INFINITY;
      this.recover(party);
    }
    if (party.strategy !== null && !party.strategy.alive(party.context!)) return;
    this.apply(party, envelope.input);
  }

  private apply(party: Party, input: MvbaInput): void {
    party.log.push(input);
    const { effects } = step(party.core, input);
    for (const effect of effects) this.execute(party, effect);
  }

  private execute(party: Party, effect: MvbaEffect): void {
    if (effect.type === 'decide') {
      if (party.decision !== null && !sameDecision(party.decision, effect.decision)) {
        this.fail(`party ${party.id} decided twice, differently`);
      }
      party.decision = effect.decision;
      return;
    }
    if (party.strategy === null) {
      this.post(party.id, effect.to, effect.message);
      return;
    }
    for (const out of party.strategy.transform(party.context!, effect.to, effect.message)) this.post(party.id, out.to, out.message);
  }

  private post(from: PartyId, to: PartyId, message: unknown): void {
    if (to === from) return;
    this.messages += 1;
    const type = typeof message === 'object' && message !== null && 'type' in message ? String((message as { type: unknown }).type) : 'other';
    this.messageTypes[type] = (this.messageTypes[type] ?? 0) + 1;
    if (typeof message === 'object' && message !== null && type.startsWith('mvba.')) this.adversary.observe(from, message as MvbaMessage);
    this.pool.push({ from, to, input: { type: 'message', from, message }, born: this.deliveries });
  }

  private fail(reason: string): never {
    throw new SimulationFailure(`${reason}; replay with SEED=${this.options.seed} (${describe(this.options)})`);
  }

  private report(): RunReport {
    const correct = this.correct();
    const decision = correct[0]!.decision!;
    for (const party of correct) {
      if (!sameDecision(party.decision!, decision)) {
        this.fail(`agreement broken: party ${correct[0]!.id} decided ${show(decision)}, party ${party.id} decided ${show(party.decision!)}`);
      }
    }
    if (!validateValue(decision.value)) this.fail(`external validity broken: decided ${show(decision)}`);
    const honestProposer = this.parties[decision.proposer]!.strategy === null;
    if (honestProposer && decoder.decode(decision.value) !== `ok:${this.options.seed}:${decision.proposer}`) {
      this.fail(`integrity broken: decided ${show(decision)}, which correct party ${decision.proposer} never proposed`);
    }
    const refused: Record<string, number> = {};
    for (const party of correct) for (const [reason, count] of Object.entries(party.core.refused)) refused[reason] = (refused[reason] ?? 0) + count;
    return {
      options: this.options, deliveries: this.deliveries, messages: this.messages, decision, honestProposer,
      messageTypes: this.messageTypes, refused,
    };
  }
}

function sameDecision(first: Decision, second: Decision): boolean {
  return first.proposer === second.proposer && first.round === second.round
    && first.value.length === second.value.length && first.value.every((byte, index) => byte === second.value[index]);
}

function show(decision: Decision): string {
  return `${decoder.decode(decision.value)} from party ${decision.proposer} in round ${decision.round}`;
}

/** A one-line summary of a run's options, for failure messages. */
export function describe(options: RunOptions): string {
  const byzantine = options.byzantine.map((entry) => `${entry.party}:${entry.strategy}`).join(',') || 'none';
  return `n=${options.parties} ${options.protocol} crypto=${options.crypto} scheduler=${options.scheduler} byzantine=${byzantine} restarts=${options.restarts.join(',') || 'none'} fixedCoinRounds=${options.fixedCoinRounds}`;
}
