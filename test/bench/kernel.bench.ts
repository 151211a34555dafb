/**
 * Kernel overhead: local tell throughput (one actor, 1M messages) and ping-pong round trips per second
 * through the Troupe API, against raw nact measured in the same run (DESIGN.md section 7).
 * Runs alternate (raw, troupe, raw, troupe ...) and report the median, because the machine is noisy.
 */
import nact from 'nact';
import { ActorSystem, behaviour, type Ref } from '../../runtime/index.js';

const tellCount = Number(process.env.BENCH_TELLS ?? 1_000_000);
const roundTrips = Number(process.env.BENCH_ROUND_TRIPS ?? 200_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);

type Done = () => void;

async function rawTell(): Promise<number> {
  const system = nact.start();
  let finish: Done = () => {};
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  const actor = nact.spawn(system, (count: number = 0) => { const next = count + 1; if (next === tellCount) finish(); return next; }, 'counter');
  const started = performance.now();
  for (let index = 0; index < tellCount; index += 1) nact.dispatch(actor, index);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  nact.stop(system);
  return tellCount / seconds;
}

async function troupeTell(): Promise<number> {
  const system = new ActorSystem({ node: 'bench', mailbox: { capacity: tellCount + 10, overflow: 'reject' } });
  let finish: Done = () => {};
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  const counter = behaviour<number, number>({ name: 'counter', init: () => 0, receive: (count) => { const next = count + 1; if (next === tellCount) finish(); return next; } });
  const ref = system.spawn(counter, { name: 'counter' });
  const started = performance.now();
  for (let index = 0; index < tellCount; index += 1) system.tell(ref, index);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await system.stop();
  return tellCount / seconds;
}

async function rawPingPong(): Promise<number> {
  const system = nact.start();
  let finish: Done = () => {};
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  const ponger = nact.spawn(system, (state: number = 0, message: { from: unknown; n: number }) => { nact.dispatch(message.from as never, { n: message.n }); return state; }, 'ponger');
  const pinger = nact.spawn(system, (state: number = 0, message: { n: number }, ctx: { self: unknown }) => {
    if (message.n === roundTrips) { finish(); return state; }
    nact.dispatch(ponger, { from: ctx.self, n: message.n + 1 });
    return state;
  }, 'pinger');
  const started = performance.now();
  nact.dispatch(pinger, { n: 0 });
  await finished;
  const seconds = (performance.now() - started) / 1000;
  nact.stop(system);
  return roundTrips / seconds;
}

async function troupePingPong(): Promise<number> {
  const system = new ActorSystem({ node: 'bench' });
  let finish: Done = () => {};
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  const ponger = system.spawn(behaviour<null, { n: number }>({ name: 'ponger', init: () => null, receive: (state, message, ctx) => { ctx.tell(ctx.sender as Ref, { n: (message as { n: number }).n }); return state; } }), { name: 'ponger' });
  const pinger = system.spawn(behaviour<null, { n: number }>({
    name: 'pinger', init: () => null,
    receive: (state, message, ctx) => { const n = (message as { n: number }).n; if (n === roundTrips) { finish(); return state; } ctx.tell(ponger, { n: n + 1 }); return state; },
  }), { name: 'pinger' });
  const started = performance.now();
  system.tell(pinger, { n: 0 });
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await system.stop();
  return roundTrips / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const samples = { rawTell: [] as number[], troupeTell: [] as number[], rawPingPong: [] as number[], troupePingPong: [] as number[] };
for (let round = 0; round < rounds; round += 1) {
  samples.rawTell.push(await rawTell());
  samples.troupeTell.push(await troupeTell());
  samples.rawPingPong.push(await rawPingPong());
  samples.troupePingPong.push(await troupePingPong());
  (globalThis as { gc?: () => void }).gc?.();
  console.error(`round ${round + 1}/${rounds}: tell raw ${Math.round(samples.rawTell.at(-1)!)} troupe ${Math.round(samples.troupeTell.at(-1)!)} msg/s; ping-pong raw ${Math.round(samples.rawPingPong.at(-1)!)} troupe ${Math.round(samples.troupePingPong.at(-1)!)} rt/s`);
}
const tellPerSecond = median(samples.troupeTell);
const pingPongPerSecond = median(samples.troupePingPong);
const baseline = { tellPerSecond: Math.round(median(samples.rawTell)), pingPongPerSecond: Math.round(median(samples.rawPingPong)) };
const ratios = { tell: tellPerSecond / baseline.tellPerSecond, pingPong: pingPongPerSecond / baseline.pingPongPerSecond };
console.log(JSON.stringify({
  bench: 'kernel', messages: tellCount, roundTrips, rounds,
  tellPerSecond: Math.round(tellPerSecond), pingPongPerSecond: Math.round(pingPongPerSecond),
  baseline, ratios: { tell: Number(ratios.tell.toFixed(3)), pingPong: Number(ratios.pingPong.toFixed(3)) },
  ratio: Number(Math.min(ratios.tell, ratios.pingPong).toFixed(3)),
}));
