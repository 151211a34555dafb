/**
 * The budget of unauthenticated connections: sockets on the node and client paths that have not yet
 * proven a secret or a token. It is separate from authenticated clients' slots (`clientsMax`), so a
 * stranger holding sockets open cannot take the places of real clients; it is bounded per remote
 * address (`unauthenticatedPerAddressMax`) and in total (`unauthenticatedMax`), and every admitted
 * socket must authenticate within `handshakeTimeoutMs` or be dropped (HANDSHAKE_TIMEOUT). At the
 * bound the upgrade is refused with HTTP 503 before any WebSocket work is done.
 */

/** The outcome of asking for a place: a release function (idempotent), or the refusal code. */
export type Admission = { readonly ok: true; readonly release: () => void } | { readonly ok: false; readonly code: 'TOO_MANY_HANDSHAKES' };

/** Counts unauthenticated sockets per remote address and in total. */
export class HandshakeBudget {
  readonly #perAddress = new Map<string, number>();
  #total = 0;
  #peakPerAddress = 0;

  constructor(readonly totalMax: number, readonly perAddressMax: number) {}

  /** Unauthenticated sockets held now. */
  get held(): number {
    return this.#total;
  }

  /** The most unauthenticated sockets one address has held at once since the node started. */
  get peakPerAddress(): number {
    return this.#peakPerAddress;
  }

  /** Takes a place for a socket from `address`; call `release` when it authenticates or closes. */
  admit(address: string): Admission {
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (this.#total >= this.totalMax || fromAddress >= this.perAddressMax) return { ok: false, code: 'TOO_MANY_HANDSHAKES' };
    this.#total += 1;
    this.#perAddress.set(address, fromAddress + 1);
    this.#peakPerAddress = Math.max(this.#peakPerAddress, fromAddress + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#total -= 1;
        const left = (this.#perAddress.get(address) ?? 1) - 1;
        // The map holds only addresses with sockets in hand, so it is bounded by `totalMax`.
        if (left <= 0) this.#perAddress.delete(address);
        else this.#perAddress.set(address, left);
      },
    };
  }
}

/** What the upgrade hands a protocol layer with a new socket. */
export interface AcceptedSocket {
  /** The remote address, for refusal logs. */
  readonly remote: string;
  /** Gives back the unauthenticated place once the socket has authenticated (idempotent). */
  readonly authenticated: () => void;
}
