/**
 * MVBA benchmark: Prioritized-MVBA beside the CKPS01 baseline, in the same run, on the same code
 * (broadcast, coin and ABBA are shared) and the real threshold BLS implementation (noble + blst).
 *
 * Each party runs the real core; the network is a discrete-event simulation in virtual time: a message
 * takes a link delay (0.25 ms plus 1 Gbit/s serialisation plus up to 0.25 ms jitter) and each party
 * processes its messages one at a time, each costing the wall-clock time its `step` really took (the
 * signing, combining and verifying included), as if every party had its own core. Decision latency is
 * the virtual time at which the last correct party decides. Messages and bytes (CBOR-encoded) are
 * counted until then. Figures for n = 4, 7, 10; message growth is shown as messages / n^2.
 *
 * Then n = 4 over loopback: four node processes (test/support/mvba-node.ts) on real authenticated
 * WebSocket links, each replica's inputs durable on its WAL; a client submits one transaction at a time
 * (each is one instance's decision, answered by f + 1 replicas) for the decision latency p50/p99 and the
 * messages per decision (the replicas' own send counters), then many at once for the replicated log's
 * throughput in transactions per second. Both protocols run in the same run.
 *
 * `npm run bench -- mvba [runsAtFour]`. Last line: one JSON object with the figures, the baseline and
 * ratio = Prioritized-MVBA p50 latency / CKPS01 p50 latency at n = 4.
 */
import { encode } from 'cbor-x';
import { MvbaProcessCluster } from '../support/mvba-cluster.js';
import { MvbaLogClient } from '../../actors/mvba/index.js';
import { createRng, type Rng } from '../../runtime/rng.js';
import {
  dealPartyKeys, newMvba, partyCryptoFromKeyFile, step, type MvbaProtocol, type MvbaState, type PartyCrypto,
} from '../../actors/mvba/index.js';

interface Event {
  readonly at: number;
  readonly order: number;
  readonly to: number;
  readonly from: number;
  readonly message: unknown;
}

/** A binary min-heap of events by virtual time (then by insertion order, so runs replay). */
class EventQueue {
  private readonly heap: Event[] = [];
  get size(): number {
    return this.heap.length;
  }
  push(event: Event): void {
    const heap = this.heap;
    heap.push(event);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(heap[index]!, heap[parent]!)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }
  pop(): Event {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        const right = left + 1;
        let smallest = index;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === index) break;
        [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
        index = smallest;
      }
    }
    return top;
  }
}

function before(first: Event, second: Event): boolean {
  return first.at < second.at || (first.at === second.at && first.order < second.order);
}

interface RunFigures {
  readonly latencyMs: number;
  readonly messages: number;
  readonly bytes: number;
}

const valueBytes = 256;
const linkDelayMs = 0.25;
const bytesPerMs = 125_000; // 1 Gbit/s

function runOnce(protocol: MvbaProtocol, cryptos: readonly PartyCrypto[], seed: number): RunFigures {
  const parties = cryptos.length;
  const rng: Rng = createRng(seed);
  const instance = `bench-${protocol}-${seed}`;
  const cores: MvbaState[] = cryptos.map((crypto, self) => newMvba({ instance, protocol, parties, self, crypto, validate: (value) => value.length > 0 }));
  const busyUntil = new Array<number>(parties).fill(0);
  const decidedAt = new Array<number | null>(parties).fill(null);
  const queue = new EventQueue();
  let order = 0;
  let messages = 0;
  let bytes = 0;
  const run = (party: number, at: number, input: Parameters<typeof step>[1]): void => {
    const start = Math.max(at, busyUntil[party]!);
    const began = performance.now();
    const { effects } = step(cores[party]!, input);
    const done = start + (performance.now() - began);
    busyUntil[party] = done;
    for (const effect of effects) {
      if (effect.type === 'decide') {
        decidedAt[party] ??= done;
        continue;
      }
      const size = encode(effect.message).length;
      messages += 1;
      bytes += size;
      const delay = linkDelayMs + size / bytesPerMs + rng.next() * 0.25;
      queue.push({ at: done + delay, order: order++, to: effect.to, from: party, message: effect.message });
    }
  };
  for (let party = 0; party < parties; party += 1) {
    const value = new Uint8Array(valueBytes).fill(party + 1);
    run(party, 0, { type: 'start', value });
  }
  while (decidedAt.some((at) => at === null)) {
    if (queue.size === 0) throw new Error(`${protocol} n=${parties} seed ${seed}: no decision`);
    const event = queue.pop();
    run(event.to, event.at, { type: 'message', from: event.from, message: event.message });
  }
  return { latencyMs: Math.max(...decidedAt.map((at) => at!)), messages, bytes };
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((first, second) => first - second);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

interface Summary {
  readonly runs: number;
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
  readonly messagesPerDecision: number;
  readonly bytesPerDecision: number;
  readonly messagesPerNSquared: number;
}

function summarise(figures: readonly RunFigures[], parties: number): Summary {
  const mean = (pick: (run: RunFigures) => number): number => figures.reduce((sum, run) => sum + pick(run), 0) / figures.length;
  return {
    runs: figures.length,
    latencyMsP50: round(percentile(figures.map((run) => run.latencyMs), 0.5)),
    latencyMsP99: round(percentile(figures.map((run) => run.latencyMs), 0.99)),
    messagesPerDecision: round(mean((run) => run.messages)),
    bytesPerDecision: Math.round(mean((run) => run.bytes)),
    messagesPerNSquared: round(mean((run) => run.messages) / parties ** 2, 2),
  };
}

interface LoopbackFigures {
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
  readonly messagesPerDecision: number;
  readonly transactionsPerSecond: number;
  readonly decisionsForThroughput: number;
}

async function loopback(protocol: MvbaProtocol, sequential: number, bulk: number): Promise<LoopbackFigures> {
  const names = ['n1', 'n2', 'n3', 'n4'];
  const cluster = new MvbaProcessCluster({ names, protocol });
  try {
    await cluster.start();
    const client = new MvbaLogClient({ replicas: names.length, transport: { ask: (replica, message, timeoutMs) => cluster.ask(names[replica]!, message, timeoutMs) }, timeoutMs: 60_000 });
    const counters = async (): Promise<{ sent: number; decided: number }> => {
      const statuses = await Promise.all(names.map((name) => cluster.ask(name, { type: 'bftlog.status' }, 10_000) as Promise<{ sent: number; decided: number }>));
      return { sent: statuses.reduce((sum, status) => sum + status.sent, 0), decided: Math.max(...statuses.map((status) => status.decided)) };
    };
    for (let index = 0; index < 3; index += 1) await client.submit({ id: `warm-${index}`, op: 'put', key: 'warm', value: String(index) });
    const before = await counters();
    const latencies: number[] = [];
    for (let index = 0; index < sequential; index += 1) {
      const began = performance.now();
      const reply = await client.submit({ id: `seq-${index}`, op: 'put', key: `seq-${index % 16}`, value: String(index) });
      if (!reply.ok) throw new Error(`submit refused: ${JSON.stringify(reply)}`);
      latencies.push(performance.now() - began);
    }
    const after = await counters();
    const began = performance.now();
    // A window of concurrent submits (the client SDK bounds the asks in flight per connection).
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < bulk) {
        const index = next;
        next += 1;
        const reply = await client.submit({ id: `bulk-${index}`, op: 'put', key: `bulk-${index % 256}`, value: String(index) });
        if (!reply.ok) throw new Error(`submit refused: ${JSON.stringify(reply)}`);
      }
    };
    await Promise.all(Array.from({ length: 200 }, () => lane()));
    const seconds = (performance.now() - began) / 1_000;
    const end = await counters();
    return {
      latencyMsP50: round(percentile(latencies, 0.5)),
      latencyMsP99: round(percentile(latencies, 0.99)),
      messagesPerDecision: round((after.sent - before.sent) / Math.max(1, after.decided - before.decided)),
      transactionsPerSecond: Math.round(bulk / seconds),
      decisionsForThroughput: end.decided - after.decided,
    };
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const runsAtFour = Number(process.argv[2] ?? 24);
  const sizes = [[4, runsAtFour], [7, Math.max(4, Math.round(runsAtFour / 2))], [10, Math.max(3, Math.round(runsAtFour / 4))]] as const;
  const results: Record<string, Record<MvbaProtocol, Summary>> = {};
  for (const [parties, runs] of sizes) {
    const cryptos = dealPartyKeys(parties).map(partyCryptoFromKeyFile);
    runOnce('prioritized', cryptos, 0); // warm the JIT and the curve tables
    const figures: Record<MvbaProtocol, RunFigures[]> = { prioritized: [], ckps01: [] };
    // Interleave the two protocols so machine noise falls on both alike.
    for (let seed = 1; seed <= runs; seed += 1) {
      for (const protocol of ['prioritized', 'ckps01'] as const) figures[protocol].push(runOnce(protocol, cryptos, seed));
    }
    results[`n${parties}`] = { prioritized: summarise(figures.prioritized, parties), ckps01: summarise(figures.ckps01, parties) };
    for (const protocol of ['prioritized', 'ckps01'] as const) {
      const summary = results[`n${parties}`]![protocol];
      console.log(`n=${parties} ${protocol}: latency p50 ${summary.latencyMsP50} ms, p99 ${summary.latencyMsP99} ms; ${summary.messagesPerDecision} messages (${summary.messagesPerNSquared} n^2), ${summary.bytesPerDecision} bytes per decision over ${summary.runs} runs`);
    }
  }
  const ours = results.n4!.prioritized;
  const baseline = results.n4!.ckps01;
  const sequential = Number(process.argv[3] ?? 40);
  const bulk = Number(process.argv[4] ?? 2_000);
  const loop: Record<MvbaProtocol, LoopbackFigures> = {
    prioritized: await loopback('prioritized', sequential, bulk),
    ckps01: await loopback('ckps01', sequential, bulk),
  };
  for (const protocol of ['prioritized', 'ckps01'] as const) {
    const figures = loop[protocol];
    console.log(`n=4 loopback processes ${protocol}: decision latency p50 ${figures.latencyMsP50} ms, p99 ${figures.latencyMsP99} ms; ${figures.messagesPerDecision} messages per decision; log throughput ${figures.transactionsPerSecond} tx/s (${bulk} transactions in ${figures.decisionsForThroughput} decisions)`);
  }
  console.log(JSON.stringify({
    bench: 'mvba',
    unit: 'simulated network, real threshold BLS; latency in ms of virtual time with measured compute',
    prioritized: { ...Object.fromEntries(Object.entries(results).map(([size, value]) => [size, value.prioritized])), n4Loopback: loop.prioritized },
    baseline: { ckps01: { ...Object.fromEntries(Object.entries(results).map(([size, value]) => [size, value.ckps01])), n4Loopback: loop.ckps01 } },
    ratio: round(ours.latencyMsP50 / baseline.latencyMsP50, 2),
    loopbackLatencyRatio: round(loop.prioritized.latencyMsP50 / loop.ckps01.latencyMsP50, 2),
    loopbackMessagesRatio: round(loop.prioritized.messagesPerDecision / loop.ckps01.messagesPerDecision, 2),
    loopbackThroughputRatio: round(loop.prioritized.transactionsPerSecond / loop.ckps01.transactionsPerSecond, 2),
    messagesRatio: round(ours.messagesPerDecision / baseline.messagesPerDecision, 2),
    bytesRatio: round(ours.bytesPerDecision / baseline.bytesPerDecision, 2),
    target: {
      fewerMessagesThanBaselineAtFour: loop.prioritized.messagesPerDecision < loop.ckps01.messagesPerDecision,
      loopbackLatencyP50AtMost70MsAtFour: loop.prioritized.latencyMsP50 <= 70,
    },
  }));
}

await main();
