/**
 * A small driver for scripted routing traces: backends, prompts as text, and the core's effects.
 */
import {
  blockKeys, checkInvariants, initialRouterState, routerConfig, step,
  type PolicyName, type RouterConfig, type RouterEffect, type RouterState,
} from '../../../actors/router/core/index.js';

const encoder = new TextEncoder();

/** Drives one router core. */
export class Trace {
  readonly state: RouterState;
  readonly effects: RouterEffect[] = [];
  #next = 0;

  constructor(policy: PolicyName, backends: readonly string[], overrides: Partial<RouterConfig> = {}, capacityTokens = 100_000) {
    this.state = initialRouterState(routerConfig({ policy, blockBytes: 8, ...overrides }));
    for (const id of backends) {
      this.apply({ type: 'backend.add', id, capacityTokens });
      this.apply({ type: 'backend.probe', id, ok: true, bootId: `${id}-boot-1` });
    }
  }

  apply(input: Parameters<typeof step>[1]): RouterEffect[] {
    const { effects } = step(this.state, input);
    checkInvariants(this.state);
    this.effects.push(...effects);
    return effects;
  }

  keys(prompt: string): number[] {
    return blockKeys(encoder.encode(prompt), this.state.config.blockBytes, this.state.config.promptBlocksMax);
  }

  /** Routes a prompt; returns the request id and the routed effect. */
  route(prompt: string, options: { sessionKey?: string; exclude?: string[] } = {}): Extract<RouterEffect, { type: 'routed' }> & { requestId: string } {
    const requestId = `r${this.#next++}`;
    const effects = this.apply({
      type: 'route', requestId, keys: this.keys(prompt), promptTokens: encoder.encode(prompt).length,
      ...(options.sessionKey === undefined ? {} : { sessionKey: options.sessionKey }), ...(options.exclude === undefined ? {} : { exclude: options.exclude }),
    });
    const routed = effects.find((effect) => effect.type === 'routed');
    if (routed === undefined || routed.type !== 'routed') throw new Error(`not routed: ${JSON.stringify(effects)}`);
    return routed;
  }

  finish(requestId: string, extra: { cachedTokens?: number; completion?: string; prompt?: string } = {}): RouterEffect[] {
    return this.apply({
      type: 'finish', requestId, outcome: 'ok',
      ...(extra.cachedTokens === undefined ? {} : { cachedTokens: extra.cachedTokens }),
      ...(extra.completion === undefined || extra.prompt === undefined ? {} : { filledKeys: this.keys(extra.prompt + extra.completion) }),
    });
  }

  /** Routes and finishes at once (a sequential client). */
  serve(prompt: string, options: { sessionKey?: string } = {}): string {
    const routed = this.route(prompt, options);
    this.finish(routed.requestId);
    return routed.backend;
  }
}

/** A deterministic filler text of `length` characters, different per `seed`. */
export function text(seed: number, length: number): string {
  let out = '';
  let value = seed * 2654435761 >>> 0;
  while (out.length < length) {
    value = (Math.imul(value, 1103515245) + 12345) >>> 0;
    out += String.fromCharCode(97 + ((value >>> 16) % 26));
  }
  return out;
}
