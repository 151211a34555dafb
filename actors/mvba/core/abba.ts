/**
 * Asynchronous binary Byzantine agreement: the signature-free protocol of Mostefaoui, Moumen and Raynal
 * (PODC 2014) with the CONF phase that closes the adversarial-scheduling attack on its coin step
 * (Mostefaoui, Moumen, Raynal, "Signature-free asynchronous Byzantine consensus with t < n/3 and O(n^2)
 * messages", and the fix the HoneyBadger implementations adopted), over a threshold common coin whose
 * share is released only after the CONF phase, and TERM messages for termination.
 *
 * Round r at a party with estimate est:
 *   1. BV-broadcast: send BVAL(est); on f + 1 BVAL(b) send BVAL(b) too; on 2f + 1 BVAL(b) add b to bin_values.
 *   2. On the first value in bin_values send AUX(b); wait for n - f AUX whose values lie in bin_values.
 *   3. Send CONF(bin_values); wait for n - f CONF whose sets lie in bin_values; vals = their union.
 *   4. Release the coin share; with coin s: vals = {b} sets est = b and decides b if b = s; else est = s.
 * A decided party sends TERM(b) and stops; a TERM(b) counts as that sender's BVAL(b), AUX(b) and
 * CONF({b}) in every later round, and f + 1 TERM(b) decide b (one of them is honest).
 *
 * Invariants (asserted by the simulation): agreement, validity (a decided value was some correct party's
 * input) and termination with probability 1 under any fair schedule.
 */
import { recordOnce } from './quorum.js';
import type { PartyId } from './types.js';

/** What one ABBA round has seen and sent. Value sets are bitmasks: 1 = {0}, 2 = {1}, 3 = {0, 1}. */
interface AbbaRound {
  readonly bval: [PartyId[], PartyId[]];
  readonly bvalSent: [boolean, boolean];
  binValues: number;
  readonly auxSenders: PartyId[];
  readonly aux: [PartyId[], PartyId[]];
  auxSent: boolean;
  readonly confSenders: PartyId[];
  readonly confMasks: number[];
  confSent: number;
  /** The union of the CONF sets counted when the CONF phase completed; 0 before. */
  vals: number;
}

/** One ABBA instance (one slot of the MVBA's candidate order). */
export interface Abba {
  readonly slot: number;
  started: boolean;
  round: number;
  estimate: 0 | 1;
  decided: 0 | 1 | null;
  termSent: boolean;
  readonly terms: [PartyId[], PartyId[]];
  readonly rounds: Map<number, AbbaRound>;
}

/** The ABBA's view of its surroundings: the party counts, its sends and the common coin. */
export interface AbbaIo {
  readonly parties: number;
  readonly faults: number;
  send(kind: 'mvba.bval' | 'mvba.aux' | 'mvba.conf' | 'mvba.term', abbaRound: number, value: number): void;
  /** Releases this party's share of the coin for `abbaRound`. */
  releaseCoin(abbaRound: number): void;
  /** The coin's bit for `abbaRound`, or null until f + 1 shares combine. */
  coin(abbaRound: number): 0 | 1 | null;
}

/** A fresh, not yet started instance. Messages may arrive (and are kept) before it starts. */
export function newAbba(slot: number): Abba {
  return { slot, started: false, round: 0, estimate: 0, decided: null, termSent: false, terms: [[], []], rounds: new Map() };
}

function roundOf(abba: Abba, round: number): AbbaRound {
  let state = abba.rounds.get(round);
  if (state === undefined) {
    state = {
      bval: [[], []], bvalSent: [false, false], binValues: 0, auxSenders: [], aux: [[], []], auxSent: false,
      confSenders: [], confMasks: [], confSent: 0, vals: 0,
    };
    abba.rounds.set(round, state);
  }
  return state;
}

function maskHas(mask: number, value: 0 | 1): boolean {
  return (mask & (value === 0 ? 1 : 2)) !== 0;
}

/** The number of distinct parties in `first` plus those of `second` not already in it. */
function unionCount(first: readonly PartyId[], second: readonly PartyId[]): number {
  return first.length + second.filter((party) => !first.includes(party)).length;
}

/** Starts the instance with this party's input. */
export function startAbba(abba: Abba, input: 0 | 1, io: AbbaIo): void {
  if (abba.started) return;
  abba.started = true;
  abba.estimate = input;
  roundOf(abba, 0).bvalSent[input] = true;
  io.send('mvba.bval', 0, input);
  progressAbba(abba, io);
}

/** Records one ABBA message from the authenticated sender `from`, then makes what progress it allows. */
export function receiveAbba(abba: Abba, from: PartyId, kind: 'mvba.bval' | 'mvba.aux' | 'mvba.conf' | 'mvba.term', abbaRound: number, value: number, io: AbbaIo): void {
  if (kind === 'mvba.term') {
    recordOnce(abba.terms[value as 0 | 1], from);
  } else {
    const state = roundOf(abba, abbaRound);
    if (kind === 'mvba.bval') recordOnce(state.bval[value as 0 | 1], from);
    else if (kind === 'mvba.aux') {
      if (recordOnce(state.auxSenders, from)) state.aux[value as 0 | 1].push(from);
    } else if (recordOnce(state.confSenders, from)) state.confMasks.push(value);
  }
  progressAbba(abba, io);
}

function decide(abba: Abba, value: 0 | 1, io: AbbaIo): void {
  if (abba.decided === null) abba.decided = value;
  if (!abba.termSent) {
    abba.termSent = true;
    io.send('mvba.term', 0, abba.decided);
  }
}

/** Runs the round rules until nothing more can happen without new messages. */
export function progressAbba(abba: Abba, io: AbbaIo): void {
  const { parties, faults } = io;
  for (const value of [0, 1] as const) {
    if (abba.decided === null && abba.terms[value].length >= faults + 1) decide(abba, value, io);
  }
  while (abba.started && abba.decided === null) {
    const state = roundOf(abba, abba.round);
    for (const value of [0, 1] as const) {
      const support = unionCount(state.bval[value], abba.terms[value]);
      if (support >= faults + 1 && !state.bvalSent[value]) {
        state.bvalSent[value] = true;
        io.send('mvba.bval', abba.round, value);
      }
      if (support >= 2 * faults + 1 && !maskHas(state.binValues, value)) {
        state.binValues |= value === 0 ? 1 : 2;
        if (!state.auxSent) {
          state.auxSent = true;
          io.send('mvba.aux', abba.round, value);
        }
      }
    }
    if (state.binValues === 0) return;
    const auxIn = [0, 1].filter((value) => maskHas(state.binValues, value as 0 | 1)) as (0 | 1)[];
    const auxSupport = unionCount(
      auxIn.flatMap((value) => state.aux[value]),
      [...new Set(auxIn.flatMap((value) => abba.terms[value]))],
    );
    if (state.confSent === 0 && auxSupport >= parties - faults) {
      state.confSent = state.binValues;
      io.send('mvba.conf', abba.round, state.binValues);
    }
    if (state.confSent === 0) return;
    if (state.vals === 0) {
      const counted: PartyId[] = [];
      let vals = 0;
      state.confSenders.forEach((sender, index) => {
        const mask = state.confMasks[index]!;
        if ((mask & ~state.binValues) === 0) {
          counted.push(sender);
          vals |= mask;
        }
      });
      for (const value of auxIn) {
        for (const sender of abba.terms[value]) {
          if (!counted.includes(sender)) {
            counted.push(sender);
            vals |= value === 0 ? 1 : 2;
          }
        }
      }
      if (counted.length < parties - faults) return;
      state.vals = vals;
      io.releaseCoin(abba.round);
    }
    const coin = io.coin(abba.round);
    if (coin === null) return;
    if (state.vals === 3) abba.estimate = coin;
    else {
      abba.estimate = state.vals === 1 ? 0 : 1;
      if (abba.estimate === coin) {
        decide(abba, coin, io);
        return;
      }
    }
    abba.round += 1;
    const next = roundOf(abba, abba.round);
    next.bvalSent[abba.estimate] = true;
    io.send('mvba.bval', abba.round, abba.estimate);
  }
}
