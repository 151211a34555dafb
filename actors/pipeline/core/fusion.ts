/**
 * Reciprocal-rank fusion (Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet
 * and individual Rank Learning Methods", SIGIR 2009): each ranked list gives an item
 * `weight / (constant + rank)` (rank from 1), the sums are sorted descending. Only ranks are used, so
 * lists whose scores are on different scales (cosine similarity, full-text rank) combine without
 * calibration; `constant` (60 in the paper) damps the influence of the very top ranks. Pure.
 */
import { assert } from '../../../runtime/index.js';

/** One ranked list to fuse: item keys, best first, and the list's weight. */
export interface RankedList {
  readonly keys: readonly string[];
  readonly weight: number;
}

/** A fused item: its key, fused score, and its rank (from 1) in each input list, null where absent. */
export interface FusedRank {
  readonly key: string;
  readonly score: number;
  readonly ranks: ReadonlyArray<number | null>;
}

/** The RRF constant of the paper. */
export const reciprocalRankConstant = 60;

/** Fuses `lists` by reciprocal rank; ties are broken by key (code unit order), so the result is deterministic. */
export function reciprocalRankFusion(lists: readonly RankedList[], constant: number = reciprocalRankConstant): FusedRank[] {
  assert(Number.isFinite(constant) && constant >= 0, 'the fusion constant must be a finite non-negative number', { constant });
  const scores = new Map<string, { score: number; ranks: Array<number | null> }>();
  lists.forEach((list, listIndex) => {
    assert(Number.isFinite(list.weight) && list.weight >= 0, 'list weights must be finite and non-negative', { weight: list.weight });
    const seen = new Set<string>();
    list.keys.forEach((key, position) => {
      assert(!seen.has(key), 'a ranked list holds each key once', { key });
      seen.add(key);
      let entry = scores.get(key);
      if (entry === undefined) {
        entry = { score: 0, ranks: lists.map(() => null) };
        scores.set(key, entry);
      }
      entry.score += list.weight / (constant + position + 1);
      entry.ranks[listIndex] = position + 1;
    });
  });
  return [...scores.entries()]
    .map(([key, entry]) => ({ key, score: entry.score, ranks: entry.ranks }))
    .sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
