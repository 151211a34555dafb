/**
 * The prefix tree: match, fill, LRU eviction bounded by capacity, truncation on evidence, persistence.
 */
import { describe, expect, it } from 'vitest';
import { PrefixTree, blockKeys } from '../../../actors/router/core/index.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, index) => from + index);

describe('PrefixTree', () => {
  it('matches the longest held prefix, splitting edges where prompts diverge', () => {
    const tree = new PrefixTree(100);
    tree.insert([1, 2, 3, 4, 5], 1);
    tree.insert([1, 2, 3, 9, 9], 2);
    expect(tree.match([1, 2, 3, 4, 5, 6])).toBe(5);
    expect(tree.match([1, 2, 3, 9])).toBe(4);
    expect(tree.match([1, 2, 7])).toBe(2);
    expect(tree.match([8])).toBe(0);
    expect(tree.size).toBe(7);
    tree.check();
  });

  it('evicts the least recently used leaves first and never exceeds its capacity', () => {
    const tree = new PrefixTree(10);
    tree.insert([1, 2, 3, 4], 1); // shared prefix 1,2 then 3,4
    tree.insert([1, 2, 5, 6], 2);
    tree.insert([1, 2, 3, 4], 3); // refreshes 3,4
    tree.insert([7, 8, 9, 10], 4); // 10 blocks now: 1,2 | 3,4 | 5,6 | 7..10
    expect(tree.size).toBe(10);
    tree.insert([11, 12], 5); // 12 > 10: the leaf 5,6 (oldest) goes
    tree.check();
    expect(tree.size).toBe(10);
    expect(tree.match([1, 2, 5, 6])).toBe(2);
    expect(tree.match([1, 2, 3, 4])).toBe(4);
    expect(tree.match([7, 8, 9, 10])).toBe(4);
  });

  it('cuts a leaf short when only part of it must go', () => {
    const tree = new PrefixTree(6);
    tree.insert(range(0, 4), 1);
    tree.insert(range(100, 104), 2);
    tree.check();
    expect(tree.match(range(0, 4))).toBe(2);
    expect(tree.match(range(100, 104))).toBe(4);
  });

  it('truncate forgets a prefix past the cut, with every longer prompt under it', () => {
    const tree = new PrefixTree(100);
    tree.insert([...range(0, 10), 50, 51], 1);
    tree.insert([...range(0, 10), 60, 61], 2);
    tree.insert([...range(0, 4), 70], 3);
    tree.truncate([...range(0, 10), 50, 51], 6);
    tree.check();
    expect(tree.match([...range(0, 10), 60, 61])).toBe(6);
    expect(tree.match([...range(0, 4), 70])).toBe(5);
    tree.truncate([...range(0, 4), 70], 0);
    expect(tree.match(range(0, 10))).toBe(0);
    expect(tree.size).toBe(0);
  });

  it('survives persistence: paths rebuild the same matches and recency', () => {
    const tree = new PrefixTree(8);
    tree.insert([1, 2, 3], 1);
    tree.insert([1, 2, 4], 5);
    tree.insert([9, 9], 3);
    const copy = PrefixTree.fromPaths(8, tree.paths());
    copy.check();
    expect(copy.match([1, 2, 3])).toBe(3);
    expect(copy.match([1, 2, 4])).toBe(3);
    copy.insert([5, 5, 5], 6); // 9 > 8: the oldest leaf (the 3 under 1,2) goes
    expect(copy.match([1, 2, 3])).toBe(2);
    expect(copy.match([1, 2, 4])).toBe(3);
  });

  it('block keys identify whole prefixes: equal blocks after different prefixes differ', () => {
    const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
    const a = blockKeys(bytes('AAAABBBBCC'), 4, 100);
    const b = blockKeys(bytes('XXXXBBBB'), 4, 100);
    expect(a).toHaveLength(2);
    expect(a[1]).not.toBe(b[1]);
    expect(blockKeys(bytes('AAAABBBBDD'), 4, 100)).toEqual(a);
    expect(blockKeys(bytes('AAAABBBBCCCC'), 4, 1)).toEqual([a[0]]);
  });
});
