/**
 * The node inventory and gang placement. Nodes are indexed by GPU product and by free GPU count, so
 * a pod's node is found by best fit without scanning the cluster: the pod goes to the ready node of
 * its product with the fewest free GPUs that still hold it. Filling partly used nodes first is what
 * keeps whole nodes free for the large gangs (an 8-GPU worker needs an empty 8-GPU node).
 *
 * A gang is placed tentatively, pod by pod, largest first; if any pod finds no node, every tentative
 * allocation is undone and the gang gets no placement at all. So a placement is whole or nothing.
 *
 * Invariants: a node's free counts equal its capacity minus the pods allocated on it; a GPU index is
 * held by at most one pod; only ready nodes are in the free-count index.
 */
import { assert } from '../../../runtime/index.js';
import type { JobSpec, NodeSpec, PodPlacement, TopologyHint } from './types.js';

/** A node and what is allocated on it. */
export interface NodeState {
  spec: NodeSpec;
  ready: boolean;
  freeCpuMilli: number;
  freeMemoryMiB: number;
  /** One entry per GPU index: the pod key holding it, or '' when free. */
  gpuHolders: string[];
  freeGpus: number;
  /** Pod keys (`<jobId>/<pod>`) allocated here. */
  pods: Set<string>;
}

interface PodNeed {
  readonly pod: string;
  readonly podSet: string;
  readonly gpus: number;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
}

/** The nodes, their allocations, and the free-GPU index used for best-fit placement. */
export class Inventory {
  readonly nodes = new Map<string, NodeState>();
  /** GPU product -> free GPU count -> ready nodes with exactly that many free (insertion order is deterministic). */
  private readonly index = new Map<string, Set<NodeState>[]>();
  /** Bumps whenever the set of nodes or a capacity changes (not on allocation). */
  version = 0;

  /** Adds a node, or updates its capacity and marks it ready. */
  upsert(spec: NodeSpec): void {
    const existing = this.nodes.get(spec.name);
    if (existing === undefined) {
      const node: NodeState = {
        spec, ready: true, freeCpuMilli: spec.cpuMilli, freeMemoryMiB: spec.memoryMiB,
        gpuHolders: new Array<string>(spec.gpuCount).fill(''), freeGpus: spec.gpuCount, pods: new Set(),
      };
      this.nodes.set(spec.name, node);
      this.indexAdd(node);
      this.version += 1;
      return;
    }
    this.indexRemove(existing);
    const changed = existing.spec.cpuMilli !== spec.cpuMilli || existing.spec.memoryMiB !== spec.memoryMiB || existing.spec.gpuCount !== spec.gpuCount
      || existing.spec.gpuType !== spec.gpuType || existing.spec.rack !== spec.rack;
    if (changed) {
      existing.freeCpuMilli += spec.cpuMilli - existing.spec.cpuMilli;
      existing.freeMemoryMiB += spec.memoryMiB - existing.spec.memoryMiB;
      const holders = existing.gpuHolders.slice(0, spec.gpuCount);
      while (holders.length < spec.gpuCount) holders.push('');
      existing.gpuHolders = holders;
      existing.freeGpus = holders.filter((holder) => holder === '').length;
      existing.spec = spec;
      this.version += 1;
    }
    existing.ready = true;
    this.indexAdd(existing);
  }

  /** Marks a node not ready: nothing new is placed on it; what it holds stays allocated until released. */
  setNotReady(name: string): void {
    const node = this.nodes.get(name);
    if (node === undefined || !node.ready) return;
    this.indexRemove(node);
    node.ready = false;
  }

  /** Forgets a node. Allocations on it are dropped with it; releasing them later is a no-op. */
  remove(name: string): void {
    const node = this.nodes.get(name);
    if (node === undefined) return;
    if (node.ready) this.indexRemove(node);
    this.nodes.delete(name);
    this.version += 1;
  }

  /** Holds a pod's resources on its node. */
  allocate(jobId: string, placement: PodPlacement): void {
    const node = this.nodes.get(placement.node);
    if (node === undefined) return;
    const key = `${jobId}/${placement.pod}`;
    assert(!node.pods.has(key), 'a pod is allocated twice', { key, node: node.spec.name });
    if (node.ready) this.indexRemove(node);
    node.pods.add(key);
    node.freeCpuMilli -= placement.cpuMilli;
    node.freeMemoryMiB -= placement.memoryMiB;
    for (const index of placement.gpuIndices) {
      assert(node.gpuHolders[index] === '', 'a GPU is allocated twice', { node: node.spec.name, index, holder: node.gpuHolders[index], key });
      node.gpuHolders[index] = key;
    }
    node.freeGpus -= placement.gpuIndices.length;
    if (node.ready) this.indexAdd(node);
  }

  /** Gives back a pod's resources (a no-op for a node that was removed). */
  release(jobId: string, placement: PodPlacement): void {
    const node = this.nodes.get(placement.node);
    if (node === undefined) return;
    const key = `${jobId}/${placement.pod}`;
    if (!node.pods.delete(key)) return;
    if (node.ready) this.indexRemove(node);
    node.freeCpuMilli += placement.cpuMilli;
    node.freeMemoryMiB += placement.memoryMiB;
    for (const index of placement.gpuIndices) {
      assert(node.gpuHolders[index] === key, 'a GPU is released by a pod that does not hold it', { node: node.spec.name, index, key });
      node.gpuHolders[index] = '';
    }
    node.freeGpus += placement.gpuIndices.length;
    if (node.ready) this.indexAdd(node);
  }

  /**
   * Places every pod of the gang on GPUs of `gpuType`, or returns undefined having changed nothing.
   * The placement is not kept: the caller allocates it when it admits the job.
   */
  placeGang(jobId: string, spec: JobSpec, gpuType: string): PodPlacement[] | undefined {
    const needs = podNeeds(spec);
    if (spec.topology === 'sameNode') return this.placeOnOneNode(jobId, needs, gpuType);
    if (spec.topology === 'sameRack') {
      for (const rack of this.racks()) {
        const placed = this.placeEach(jobId, needs, gpuType, rack);
        if (placed !== undefined) return placed;
      }
      return undefined;
    }
    return this.placeEach(jobId, needs, gpuType, undefined);
  }

  /** The racks of ready nodes, in name order. */
  private racks(): string[] {
    const racks = new Set<string>();
    for (const node of this.nodes.values()) if (node.ready) racks.add(node.spec.rack);
    return [...racks].sort();
  }

  private placeEach(jobId: string, needs: readonly PodNeed[], gpuType: string, rack: string | undefined): PodPlacement[] | undefined {
    const placed: PodPlacement[] = [];
    for (const need of needs) {
      const node = this.bestFit(need.gpus, need.cpuMilli, need.memoryMiB, gpuType, rack);
      if (node === undefined) break;
      const placement = placementOn(node, need);
      this.allocate(jobId, placement);
      placed.push(placement);
    }
    for (const placement of placed) this.release(jobId, placement);
    return placed.length === needs.length ? placed : undefined;
  }

  private placeOnOneNode(jobId: string, needs: readonly PodNeed[], gpuType: string): PodPlacement[] | undefined {
    let gpus = 0;
    let cpuMilli = 0;
    let memoryMiB = 0;
    for (const need of needs) {
      gpus += need.gpus;
      cpuMilli += need.cpuMilli;
      memoryMiB += need.memoryMiB;
    }
    const node = this.bestFit(gpus, cpuMilli, memoryMiB, gpuType, undefined);
    if (node === undefined) return undefined;
    return this.placeEachOn(jobId, needs, node);
  }

  private placeEachOn(jobId: string, needs: readonly PodNeed[], node: NodeState): PodPlacement[] {
    const placed: PodPlacement[] = [];
    for (const need of needs) {
      const placement = placementOn(node, need);
      this.allocate(jobId, placement);
      placed.push(placement);
    }
    for (const placement of placed) this.release(jobId, placement);
    return placed;
  }

  /** The ready node with the fewest free GPUs that still holds the request (a CPU-only pod prefers nodes without GPUs). */
  private bestFit(gpus: number, cpuMilli: number, memoryMiB: number, gpuType: string, rack: string | undefined): NodeState | undefined {
    const products = gpus > 0 ? [gpuType] : ['', ...[...this.index.keys()].filter((product) => product !== '')];
    for (const product of products) {
      const buckets = this.index.get(product);
      if (buckets === undefined) continue;
      for (let free = gpus; free < buckets.length; free += 1) {
        const bucket = buckets[free];
        if (bucket === undefined) continue;
        for (const node of bucket) {
          if (node.freeCpuMilli >= cpuMilli && node.freeMemoryMiB >= memoryMiB && (rack === undefined || node.spec.rack === rack)) return node;
        }
      }
    }
    return undefined;
  }

  /** Free GPUs of one product on ready nodes (a quick bound before trying a placement). */
  freeGpusOf(product: string): number {
    let free = 0;
    const buckets = this.index.get(product);
    if (buckets === undefined) return 0;
    for (let count = 1; count < buckets.length; count += 1) free += count * (buckets[count]?.size ?? 0);
    return free;
  }

  private indexAdd(node: NodeState): void {
    let buckets = this.index.get(node.spec.gpuType);
    if (buckets === undefined) {
      buckets = [];
      this.index.set(node.spec.gpuType, buckets);
    }
    while (buckets.length <= node.freeGpus) buckets.push(new Set());
    buckets[Math.max(0, node.freeGpus)]!.add(node);
  }

  private indexRemove(node: NodeState): void {
    this.index.get(node.spec.gpuType)?.[Math.max(0, node.freeGpus)]?.delete(node);
  }
}

function podNeeds(spec: JobSpec): PodNeed[] {
  const needs: PodNeed[] = [];
  for (const podSet of spec.podSets) {
    for (let index = 0; index < podSet.count; index += 1) {
      needs.push({ pod: `${podSet.name}-${index}`, podSet: podSet.name, gpus: podSet.gpu?.count ?? 0, cpuMilli: podSet.cpuMilli, memoryMiB: podSet.memoryMiB });
    }
  }
  // Largest first: the pods hardest to place claim their nodes before the small ones fragment them.
  return needs.sort((a, b) => b.gpus - a.gpus || b.cpuMilli - a.cpuMilli || b.memoryMiB - a.memoryMiB);
}

function placementOn(node: NodeState, need: PodNeed): PodPlacement {
  const gpuIndices: number[] = [];
  for (let index = 0; index < node.gpuHolders.length && gpuIndices.length < need.gpus; index += 1) {
    if (node.gpuHolders[index] === '') gpuIndices.push(index);
  }
  assert(gpuIndices.length === need.gpus, 'best fit chose a node without enough free GPUs', { node: node.spec.name });
  return { pod: need.pod, podSet: need.podSet, node: node.spec.name, gpuIndices, cpuMilli: need.cpuMilli, memoryMiB: need.memoryMiB };
}

/** An inventory of `nodes` with nothing allocated: what "could any node set ever hold this job" is asked of. */
export function emptyInventory(nodes: Iterable<NodeSpec>): Inventory {
  const inventory = new Inventory();
  for (const node of nodes) inventory.upsert(node);
  return inventory;
}

/** Whether a topology hint needs one rack or one node (for messages). */
export function topologyText(topology: TopologyHint): string {
  return topology === 'sameNode' ? ' on one node' : topology === 'sameRack' ? ' within one rack' : '';
}
