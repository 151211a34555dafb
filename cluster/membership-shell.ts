/**
 * Runs the membership core (core/membership.ts) on a real clock: feeds it link events, heartbeats,
 * gossip and periodic ticks, carries out its effects (node down, removal, dials, gossip), and streams
 * its events to subscribers. No membership decision is made here.
 */
import type { Clock, TimerHandle } from '../runtime/index.js';
import type { ClusterSettings } from './config.js';
import type { GossipMember } from './core/frames.js';
import {
  createMembership, gossipOf, memberOf, membersOf, membershipStep,
  type MemberView, type MembershipEffect, type MembershipEvent, type MembershipInput, type MembershipState,
} from './core/membership.js';

/** Where the membership shell's effects go. */
export interface MembershipEffects {
  nodeDown(node: string, incarnation: number): void;
  removed(node: string, incarnation: number): void;
  dial(node: string, address: string): void;
  gossip(to: string | 'all', members: readonly GossipMember[]): void;
}

/** Membership of one running node. */
export class MembershipShell {
  readonly #clock: Clock;
  readonly #settings: ClusterSettings;
  readonly #effects: MembershipEffects;
  readonly #subscribers = new Set<(event: MembershipEvent) => void>();
  readonly #state: MembershipState;
  #tickTimer: TimerHandle | undefined;
  #gossipTimer: TimerHandle | undefined;
  #stopped = false;

  constructor(options: {
    self: { node: string; incarnation: number; address: string };
    founder: boolean;
    clock: Clock;
    settings: ClusterSettings;
    effects: MembershipEffects;
  }) {
    this.#clock = options.clock;
    this.#settings = options.settings;
    this.#effects = options.effects;
    const settings = options.settings;
    this.#state = createMembership(options.self, options.founder, {
      heartbeatIntervalMs: settings.heartbeatIntervalMs, detector: settings.detector, removeAfterDownMs: settings.removeAfterDownMs, membersMax: settings.membersMax,
    }, this.#clock.now());
    this.#armTimers();
  }

  /** Feeds one input (the time is filled in). */
  input(input: DistributiveOmit<MembershipInput, 'nowMs'>): void {
    if (this.#stopped) return;
    this.#apply(membershipStep(this.#state, { ...input, nowMs: this.#clock.now() } as MembershipInput));
  }

  /** This node's own declared status. */
  get selfStatus(): 'joining' | 'up' | 'leaving' {
    return this.#state.self.declared;
  }

  members(): MemberView[] {
    return membersOf(this.#state);
  }

  member(node: string): MemberView | undefined {
    return memberOf(this.#state, node);
  }

  /** True for a known member that is neither down nor removed (asks to others fail fast). */
  isUp(node: string): boolean {
    const status = memberOf(this.#state, node)?.status;
    return status !== undefined && status !== 'down' && status !== 'removed';
  }

  /** The table to gossip now. */
  gossip(): GossipMember[] {
    return gossipOf(this.#state);
  }

  subscribe(subscriber: (event: MembershipEvent) => void): () => void {
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#tickTimer !== undefined) this.#clock.clearTimeout(this.#tickTimer);
    if (this.#gossipTimer !== undefined) this.#clock.clearTimeout(this.#gossipTimer);
  }

  #apply(effects: readonly MembershipEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'event':
          for (const subscriber of this.#subscribers) subscriber(effect.event);
          break;
        case 'nodeDown':
          this.#effects.nodeDown(effect.node, effect.incarnation);
          break;
        case 'removed':
          this.#effects.removed(effect.node, effect.incarnation);
          break;
        case 'dial':
          this.#effects.dial(effect.node, effect.address);
          break;
        case 'gossip':
          this.#effects.gossip(effect.to, gossipOf(this.#state));
          break;
      }
    }
  }

  #armTimers(): void {
    // The detector is evaluated several times per heartbeat interval so detection lags phi by little.
    const tickMs = Math.max(10, Math.min(100, Math.floor(this.#settings.heartbeatIntervalMs / 2)));
    const tick = (): void => {
      if (this.#stopped) return;
      this.input({ type: 'tick' });
      this.#tickTimer = this.#clock.setTimeout(tick, tickMs);
    };
    const gossip = (): void => {
      if (this.#stopped) return;
      this.#effects.gossip('all', gossipOf(this.#state));
      this.#gossipTimer = this.#clock.setTimeout(gossip, this.#settings.gossipIntervalMs);
    };
    this.#tickTimer = this.#clock.setTimeout(tick, tickMs);
    this.#gossipTimer = this.#clock.setTimeout(gossip, this.#settings.gossipIntervalMs);
  }
}

/** Omit over each member of a union. */
type DistributiveOmit<Union, Key extends PropertyKey> = Union extends unknown ? Omit<Union, Key> : never;
