/**
 * A backend watcher: one supervised actor per backend that probes it on a period (`/cache_state` for
 * its boot id and cache occupancy, else `/health`) and tells the router actor what it found; the core
 * decides ejection and readmission. One probe is in flight at a time; its result comes back to the
 * watcher's own mailbox, never into its state from a callback.
 */
import { refuseUnknown, type Behaviour, type Ref } from '../../runtime/index.js';
import type { BackendConfig, RouterMessage } from './router-actor.js';

/** Messages of a watcher. */
export type WatcherMessage =
  | { readonly type: 'router.watcher.tick' }
  | { readonly type: 'router.watcher.status' }
  | { readonly type: 'router.watcher.result'; readonly probe: Omit<Extract<RouterMessage, { type: 'router.probe' }>, 'type' | 'id'> };

/** State of a watcher. */
export interface WatcherState {
  probing: boolean;
  probes: number;
}

async function probeBackend(url: string, timeoutMs: number): Promise<Omit<Extract<RouterMessage, { type: 'router.probe' }>, 'type' | 'id'>> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(`${url}/cache_state`, { signal });
    if (response.ok) {
      const body = await response.json() as { bootId?: unknown; cachedTokens?: unknown; capacityTokens?: unknown };
      return {
        ok: true,
        ...(typeof body.bootId === 'string' ? { bootId: body.bootId.slice(0, 200) } : {}),
        ...(typeof body.cachedTokens === 'number' && body.cachedTokens >= 0 ? { cachedTokens: body.cachedTokens } : {}),
        ...(typeof body.capacityTokens === 'number' && body.capacityTokens > 0 ? { capacityTokens: body.capacityTokens } : {}),
      };
    }
    await response.body?.cancel();
    const health = await fetch(`${url}/health`, { signal });
    await health.body?.cancel();
    return { ok: health.ok };
  } catch {
    return { ok: false };
  }
}

/** The watcher of `backend`, reporting to `router`. */
export function watcherBehaviour(backend: BackendConfig, router: Ref, options: { intervalMs: number; timeoutMs: number; probeAtStart?: boolean }): Behaviour<WatcherState, WatcherMessage> {
  return {
    name: 'router-watcher',
    init(ctx) {
      ctx.timers.startPeriodic('probe', { type: 'router.watcher.tick' }, options.intervalMs);
      if (options.probeAtStart ?? true) ctx.tell(ctx.self, { type: 'router.watcher.tick' });
      return { probing: false, probes: 0 };
    },
    receive(state, message, ctx) {
      switch (message.type) {
        case 'router.watcher.tick': {
          if (state.probing) return state;
          state.probing = true;
          const self = ctx.self;
          void probeBackend(backend.url, options.timeoutMs).then((probe) => ctx.tell(self, { type: 'router.watcher.result', probe }));
          return state;
        }
        case 'router.watcher.result':
          state.probing = false;
          state.probes += 1;
          ctx.tell(router, { type: 'router.probe', id: backend.id, ...message.probe });
          return state;
        case 'router.watcher.status': ctx.reply({ ok: true, backend: backend.id, probes: state.probes, probing: state.probing }); return state;
        default: refuseUnknown(ctx, message, 'router-watcher'); return state;
      }
    },
    describe: (state) => ({ backend: backend.id, url: backend.url, probes: state.probes }),
  };
}
