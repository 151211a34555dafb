/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with
 * Bounded Loads", SODA 2018): each backend owns `virtualNodes` points on a 32-bit ring; a key goes to
 * the first backend clockwise from its hash whose load is below the bound `ceil(c * (total + 1) / n)`,
 * so no backend ever takes more than `c` times the average, and a key moves only when its owner is
 * full or gone.
 */
import { hashString } from './hash.js';

/** The ring: points sorted by position. */
export interface Ring {
  readonly positions: readonly number[];
  readonly owners: readonly string[];
}

/** Builds the ring over `backends` (order does not matter). */
export function buildRing(backends: readonly string[], virtualNodes: number): Ring {
  const points: Array<{ position: number; owner: string }> = [];
  for (const backend of backends) {
    for (let index = 0; index < virtualNodes; index += 1) points.push({ position: hashString(`${backend}#${index}`), owner: backend });
  }
  points.sort((a, b) => a.position - b.position || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
  return { positions: points.map((point) => point.position), owners: points.map((point) => point.owner) };
}

/** The load bound for the next request: `ceil(factor * (total + 1) / eligible)`. */
export function loadBound(totalLoad: number, eligible: number, factor: number): number {
  return Math.max(1, Math.ceil((factor * (totalLoad + 1)) / Math.max(1, eligible)));
}

/**
 * The backend for `key`: the first owner clockwise from its hash that `accept`s (eligible and under
 * its bound); undefined when none does.
 */
export function ringLookup(ring: Ring, key: string, accept: (backend: string) => boolean): string | undefined {
  const count = ring.positions.length;
  if (count === 0) return undefined;
  const hash = hashString(key);
  let low = 0;
  let high = count;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ring.positions[middle]! < hash) low = middle + 1;
    else high = middle;
  }
  const tried = new Set<string>();
  for (let step = 0; step < count; step += 1) {
    const owner = ring.owners[(low + step) % count]!;
    if (tried.has(owner)) continue;
    tried.add(owner);
    if (accept(owner)) return owner;
  }
  return undefined;
}
