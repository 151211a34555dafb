/**
 * An approximate radix tree over prompt prefixes, one per backend: the router's belief of which
 * prompt prefixes that backend still holds in its KV cache (SGLang's router keeps the same kind of
 * tree per worker; vLLM's prefix caching hashes fixed blocks the same way).
 *
 * Keys are block keys (see `blockKeys`): a prompt's bytes cut into fixed blocks, each block hashed
 * with the hash of the blocks before it, so equal keys at equal depth mean equal prefixes (up to hash
 * collisions, hence approximate). Each edge carries a run of keys; children are indexed by their
 * edge's first key.
 *
 * Eviction is LRU by leaf, bounded by the backend's cache capacity in blocks: when the tree holds
 * more blocks than its capacity, the least recently used leaves are dropped (or cut short) until it
 * fits, as a paged KV cache with LRU eviction frees the blocks no running request references.
 *
 * Invariants (asserted by `check`): `size` equals the sum of edge lengths; every non-root node has a
 * non-empty edge; a child is indexed under its edge's first key; after `insert`, `size <= capacity`.
 * Time is a logical stamp the caller passes in (`now`), never read from a clock.
 */
import { assert } from '../../../runtime/index.js';

interface TreeNode {
  edge: number[];
  readonly children: Map<number, TreeNode>;
  parent: TreeNode | undefined;
  lastUsed: number;
}

/** One cached prefix path, from the root to a leaf, as persisted. */
export interface TreePath {
  readonly keys: readonly number[];
  readonly lastUsed: number;
}

function createNode(edge: number[], parent: TreeNode | undefined, lastUsed: number): TreeNode {
  return { edge, children: new Map(), parent, lastUsed };
}

/** The router's belief of one backend's cached prefixes. */
export class PrefixTree {
  #root: TreeNode = createNode([], undefined, 0);
  #size = 0;
  #capacity: number;

  /** `capacity`: the most blocks the tree keeps; inserting past it evicts least recently used leaves. */
  constructor(capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, 'tree capacity must be a positive integer', { capacity });
    this.#capacity = capacity;
  }

  /** Blocks held. */
  get size(): number {
    return this.#size;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** How many leading keys of `keys` the tree holds (the expected cache hit, in blocks). */
  match(keys: readonly number[]): number {
    let node = this.#root;
    let matched = 0;
    while (matched < keys.length) {
      const child = node.children.get(keys[matched]!);
      if (child === undefined) return matched;
      const common = commonLength(child.edge, keys, matched);
      matched += common;
      if (common < child.edge.length) return matched;
      node = child;
    }
    return matched;
  }

  /** Learns that the backend holds `keys` (fill on miss, refresh on hit), then evicts down to capacity. */
  insert(keys: readonly number[], now: number): void {
    let node = this.#root;
    let position = 0;
    node.lastUsed = now;
    while (position < keys.length) {
      const child = node.children.get(keys[position]!);
      if (child === undefined) {
        const leaf = createNode(keys.slice(position), node, now);
        node.children.set(keys[position]!, leaf);
        this.#size += leaf.edge.length;
        break;
      }
      const common = commonLength(child.edge, keys, position);
      if (common < child.edge.length) this.#split(child, common);
      node = node.children.get(keys[position]!)!;
      node.lastUsed = now;
      position += common;
    }
    this.evictTo(this.#capacity);
  }

  /**
   * Forgets everything past the first `kept` keys of `keys` (the backend was found not to hold them:
   * its reported cached tokens or its prefill time said so). Nodes below the cut go too.
   */
  truncate(keys: readonly number[], kept: number): void {
    let node = this.#root;
    let position = 0;
    while (position < keys.length) {
      const child = node.children.get(keys[position]!);
      if (child === undefined) return;
      const common = commonLength(child.edge, keys, position);
      if (position + common > kept) {
        const keep = Math.max(0, kept - position);
        if (keep === 0) this.#remove(child);
        else {
          if (keep < child.edge.length) this.#split(child, keep);
          const upper = node.children.get(keys[position]!)!;
          for (const below of [...upper.children.values()]) this.#remove(below);
        }
        return;
      }
      if (common < child.edge.length) return;
      node = child;
      position += common;
    }
  }

  /** Evicts least recently used leaves until at most `blocks` remain. */
  evictTo(blocks: number): void {
    if (this.#size <= blocks) return;
    const leaves: TreeNode[] = [];
    this.#collectLeaves(this.#root, leaves);
    leaves.sort((a, b) => a.lastUsed - b.lastUsed);
    let index = 0;
    while (this.#size > blocks && index < leaves.length) {
      const leaf = leaves[index]!;
      const excess = this.#size - blocks;
      if (excess < leaf.edge.length) {
        leaf.edge = leaf.edge.slice(0, leaf.edge.length - excess);
        this.#size -= excess;
        return;
      }
      const parent = leaf.parent!;
      this.#remove(leaf);
      // A parent left without children becomes a leaf, older than any still to come only if it is.
      if (parent !== this.#root && parent.children.size === 0) insertSorted(leaves, parent, index + 1);
      index += 1;
    }
  }

  /** Changes the capacity (a backend reported a different cache size) and evicts down to it. */
  resize(capacity: number): void {
    assert(Number.isInteger(capacity) && capacity > 0, 'tree capacity must be a positive integer', { capacity });
    this.#capacity = capacity;
    this.evictTo(capacity);
  }

  clear(): void {
    this.#root = createNode([], undefined, 0);
    this.#size = 0;
  }

  /** Every root-to-leaf path, for persistence (`fromPaths` rebuilds the same tree). */
  paths(): TreePath[] {
    const found: TreePath[] = [];
    const walk = (node: TreeNode, prefix: number[]): void => {
      const keys = prefix.concat(node.edge);
      if (node.children.size === 0 && keys.length > 0) found.push({ keys, lastUsed: node.lastUsed });
      for (const child of node.children.values()) walk(child, keys);
    };
    walk(this.#root, []);
    return found;
  }

  /** Rebuilds a tree from persisted paths, oldest first so recency survives. */
  static fromPaths(capacity: number, paths: readonly TreePath[]): PrefixTree {
    const tree = new PrefixTree(capacity);
    for (const path of [...paths].sort((a, b) => a.lastUsed - b.lastUsed)) tree.insert(path.keys, path.lastUsed);
    return tree;
  }

  /** Asserts the tree's invariants (tests and simulations call it after every step). */
  check(): void {
    let total = 0;
    const walk = (node: TreeNode): void => {
      for (const [first, child] of node.children) {
        assert(child.edge.length > 0, 'a non-root node has a non-empty edge');
        assert(child.edge[0] === first, 'a child is indexed under its first key');
        assert(child.parent === node, 'a child points at its parent');
        total += child.edge.length;
        walk(child);
      }
    };
    walk(this.#root);
    assert(total === this.#size, 'size is the sum of edge lengths', { total, size: this.#size });
    assert(this.#size <= this.#capacity, 'the tree fits its capacity', { size: this.#size, capacity: this.#capacity });
  }

  #split(child: TreeNode, at: number): void {
    const parent = child.parent!;
    const upper = createNode(child.edge.slice(0, at), parent, child.lastUsed);
    child.edge = child.edge.slice(at);
    child.parent = upper;
    upper.children.set(child.edge[0]!, child);
    parent.children.set(upper.edge[0]!, upper);
  }

  #remove(node: TreeNode): void {
    const parent = node.parent!;
    parent.children.delete(node.edge[0]!);
    const drop = (gone: TreeNode): void => {
      this.#size -= gone.edge.length;
      for (const child of gone.children.values()) drop(child);
    };
    drop(node);
  }

  #collectLeaves(node: TreeNode, into: TreeNode[]): void {
    for (const child of node.children.values()) {
      if (child.children.size === 0) into.push(child);
      else this.#collectLeaves(child, into);
    }
  }
}

function commonLength(edge: readonly number[], keys: readonly number[], offset: number): number {
  let length = 0;
  while (length < edge.length && offset + length < keys.length && edge[length] === keys[offset + length]) length += 1;
  return length;
}

function insertSorted(leaves: TreeNode[], leaf: TreeNode, from: number): void {
  let index = from;
  while (index < leaves.length && leaves[index]!.lastUsed <= leaf.lastUsed) index += 1;
  leaves.splice(index, 0, leaf);
}
