/**
 * One link per pair of nodes. Both nodes of a pair dial each other whenever they have no link, so two
 * connections can complete at once; the acceptor of an authenticated connection decides here, and
 * both sides reach the same answer without talking:
 *  - a connection from an older incarnation than one already seen is refused (STALE_INCARNATION);
 *  - a connection from a newer incarnation always wins (the peer restarted);
 *  - if the acceptor is itself still dialling the peer, the dial of the node with the smaller name wins;
 *  - if a link is already up, a redial by the side that dialled it wins (it lost the old one: a
 *    half-open socket), and otherwise the dial of the node with the smaller name wins.
 * Pure function of names and what the acceptor knows.
 */

/** What the acceptor knows about its links to the dialling peer. */
export interface InboundView {
  /** The highest incarnation of the peer seen so far, if any. */
  readonly knownIncarnation: number | undefined;
  /** The link that is up now, if any. */
  readonly current: { readonly incarnation: number; readonly dialledByPeer: boolean } | undefined;
  /** True while this node's own dial to the peer is in progress. */
  readonly dialling: boolean;
}

/** The acceptor's decision. `replace` closes the current link; `cancelDial` abandons its own dial. */
export type InboundDecision =
  | { readonly accept: true; readonly replace: boolean; readonly cancelDial: boolean }
  | { readonly accept: false; readonly code: 'STALE_INCARNATION' | 'DUPLICATE_LINK' };

/** Decides whether to keep an authenticated inbound connection from `peer` at node `self`. */
export function decideInbound(self: string, peer: { readonly node: string; readonly incarnation: number }, view: InboundView): InboundDecision {
  if (view.knownIncarnation !== undefined && peer.incarnation < view.knownIncarnation) return { accept: false, code: 'STALE_INCARNATION' };
  const current = view.current;
  if (current !== undefined) {
    if (peer.incarnation > current.incarnation) return { accept: true, replace: true, cancelDial: view.dialling };
    if (current.dialledByPeer || peer.node < self) return { accept: true, replace: true, cancelDial: view.dialling };
    return { accept: false, code: 'DUPLICATE_LINK' };
  }
  if (view.dialling && self < peer.node) return { accept: false, code: 'DUPLICATE_LINK' };
  return { accept: true, replace: false, cancelDial: view.dialling };
}
