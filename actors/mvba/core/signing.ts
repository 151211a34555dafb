/**
 * The byte strings parties sign, and the randomness read off a coin. Every statement is a
 * length-prefixed tuple that starts with a domain tag and the instance (the session id), then the MVBA
 * round, the phase and the proposer or coin name: a share or proof made for one instance, round or
 * phase is a signature over different bytes everywhere else, so it cannot be replayed there.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { lengthPrefixed } from '../../../runtime/index.js';
import type { PartyId } from './types.js';

const domain = 'troupe.mvba.v1';
const encoder = new TextEncoder();

/** Length-prefixed concatenation: no two tuples collide. */
const tuple = lengthPrefixed;

function text(value: string | number): Uint8Array {
  return encoder.encode(String(value));
}

/** SHA-256 of a value: what an echo share signs in place of the (possibly large) value itself. */
export function valueDigest(value: Uint8Array): Uint8Array {
  return sha256(value);
}

/** What a party signs to echo `proposer`'s value in `round`; the combined signature is the value's proof. */
export function echoStatement(instance: string, round: number, proposer: PartyId, value: Uint8Array): Uint8Array {
  return tuple([text(domain), text(instance), text('echo'), text(round), text(proposer), valueDigest(value)]);
}

/** What a party signs as its share of the coin `name` in `round`. */
export function coinStatement(instance: string, round: number, name: string): Uint8Array {
  return tuple([text(domain), text(instance), text('coin'), text(round), text(name)]);
}

/** The coin's random bytes: a hash of the unique combined signature. */
export function coinBytes(signature: Uint8Array): Uint8Array {
  return sha256(tuple([text(domain), text('coin-value'), signature]));
}

/** One bit of a coin, for ABBA. */
export function coinBit(coin: Uint8Array): 0 | 1 {
  return (coin[0]! & 1) as 0 | 1;
}

/**
 * A permutation of `items` drawn from the coin (Fisher-Yates over a SHA-256 counter stream). Every
 * party holding the same coin computes the same order; nobody knows it before f + 1 shares exist.
 */
export function permutation(coin: Uint8Array, label: string, items: readonly number[]): number[] {
  const out = [...items];
  let counter = 0;
  let block = new Uint8Array(0);
  let used = 0;
  const nextWord = (): number => {
    if (used + 4 > block.length) {
      block = sha256(tuple([coin, text(label), text(counter)]));
      counter += 1;
      used = 0;
    }
    const word = ((block[used]! << 24) | (block[used + 1]! << 16) | (block[used + 2]! << 8) | block[used + 3]!) >>> 0;
    used += 4;
    return word;
  };
  for (let index = out.length - 1; index > 0; index -= 1) {
    // Rejection sampling keeps the draw uniform over 0 .. index.
    const bound = index + 1;
    const limit = Math.floor(0x1_0000_0000 / bound) * bound;
    let word = nextWord();
    while (word >= limit) word = nextWord();
    const pick = word % bound;
    [out[index], out[pick]] = [out[pick]!, out[index]!];
  }
  return out;
}
