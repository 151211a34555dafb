/**
 * The seam between the local kernel and the cluster layer. The kernel knows nothing of sockets: it
 * hands envelopes for other nodes to a `RemoteRouter`, and the cluster layer hands inbound envelopes
 * back through `ActorSystem.deliver`. Callers use the same `tell`/`ask`/`watch` for local and remote refs.
 */
import type { Envelope, Ref } from './ref.js';

/** Implemented by the cluster layer and attached with `ActorSystem.attachRemote`. */
export interface RemoteRouter {
  /** Sends an envelope to `envelope.to.node` (at-most-once unless the router offers more). */
  send(envelope: Envelope): void;
  /** True while the node is believed up; asks to a node that is not fail fast with NODE_DOWN. */
  isUp(node: string): boolean;
  /** Asks the target's node to deliver `Terminated` to `watcher` when `target` stops; delivers
   *  `Terminated { reason: 'nodeDown' }` itself if the node is declared down first. */
  watch(target: Ref, watcher: Ref): void;
  unwatch(target: Ref, watcher: Ref): void;
}
