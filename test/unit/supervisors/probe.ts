/** A test worker that records its lifecycle into a shared log. */
import { behaviour, type Behaviour } from '../../../runtime/index.js';

export type ProbeMessage =
  | { type: 'get' }
  | { type: 'add'; value: number }
  | { type: 'crash' }
  | { type: 'crashOn'; value: number }
  | { type: 'exit' };

export interface ProbeReply { id: string; incarnation: number; values: number[] }

export interface ProbeOptions {
  /** Throw in init for these incarnation numbers. */
  readonly failInitOn?: ReadonlySet<number>;
  /** Never finish onStop (to test shutdown timeouts). */
  readonly hangOnStop?: boolean;
}

/** A worker named `id` that appends `start:id:incarnation` and `stop:id:reason` to `log`. */
export function probe(id: string, log: string[], options: ProbeOptions = {}): Behaviour<{ values: number[] }, ProbeMessage> {
  return behaviour<{ values: number[] }, ProbeMessage>({
    name: `probe-${id}`,
    init(ctx) {
      if (options.failInitOn?.has(ctx.incarnation)) {
        log.push(`initFailed:${id}:${ctx.incarnation}`);
        throw new Error(`init of ${id} fails on incarnation ${ctx.incarnation}`);
      }
      log.push(`start:${id}:${ctx.incarnation}`);
      return { values: [] };
    },
    receive(state, message, ctx) {
      switch (message.type) {
        case 'get': ctx.reply({ id, incarnation: ctx.incarnation, values: [...state.values] } satisfies ProbeReply); return state;
        case 'add': state.values.push(message.value); return state;
        case 'crash': throw new Error(`${id} crashed on request`);
        case 'crashOn':
          if (state.values.includes(message.value)) throw new Error(`${id} crashes on ${message.value}`);
          state.values.push(message.value);
          return state;
        case 'exit': ctx.stopSelf(); return state;
        default: return state;
      }
    },
    onStop(_state, _ctx, reason) {
      log.push(`stop:${id}:${reason}`);
      if (options.hangOnStop) return new Promise<void>(() => {});
    },
  });
}
