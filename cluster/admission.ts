/**
 * The budget of unauthenticated connections: sockets on the node and client paths that have not yet
 * proven a secret or a token. It is separate from authenticated clients' slots (`clientsMax`), so a
 * stranger holding sockets open cannot take the places of real clients; it is bounded per remote
 * address (`unauthenticatedPerAddressMax`) and in total (`unauthenticatedMax`), and every admitted
 * socket must authenticate within `handshakeTimeoutMs` or be dropped (HANDSHAKE_TIMEOUT). At the
 * bound the upgrade is refused with HTTP 503 before any WebSocket work is done.
 *
 * The total cannot be held by spreading sockets over many addresses (127.0.0.x, an IPv6 prefix): when
 * it is full, a newcomer from an address that holds fewer places than the heaviest address takes the
 * place of the heaviest address's oldest socket, which the caller closes (HANDSHAKE_EVICTED). A
 * newcomer whose address already holds as many places as any other is refused. So whoever holds the
 * most unauthenticated sockets pays for a full budget, and an address with none (a real client) is
 * admitted however the rest is spread; if every address holds one, the address that took its place
 * first goes first, so a newcomer keeps its place for as many admissions as the total allows. Every
 * decision is made here, on counts; nothing is timed.
 */

/** The outcome of asking for a place: a release function (idempotent) and the socket evicted to make room, or the refusal code. */
export type Admission<Socket> =
  | { readonly ok: true; readonly release: () => void; readonly evicted?: { readonly socket: Socket; readonly address: string } }
  | { readonly ok: false; readonly code: 'TOO_MANY_HANDSHAKES' };

interface Place<Socket> {
  readonly socket: Socket;
  released: boolean;
}

/** Counts unauthenticated sockets per remote address and in total, oldest first per address. */
export class HandshakeBudget<Socket = unknown> {
  /** Places held, by address, oldest first; only addresses with places in hand, so bounded by `totalMax`. */
  readonly #perAddress = new Map<string, Array<Place<Socket>>>();
  #total = 0;
  #peakPerAddress = 0;
  #evictions = 0;

  constructor(readonly totalMax: number, readonly perAddressMax: number) {}

  /** Unauthenticated sockets held now. */
  get held(): number {
    return this.#total;
  }

  /** The most unauthenticated sockets one address has held at once since the node started. */
  get peakPerAddress(): number {
    return this.#peakPerAddress;
  }

  /** Sockets evicted to make room for an address that held fewer. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Takes a place for `socket` from `address`; call `release` when it authenticates or closes, and close `evicted` if set. */
  admit(address: string, socket: Socket): Admission<Socket> {
    const fromAddress = this.#perAddress.get(address)?.length ?? 0;
    if (fromAddress >= this.perAddressMax) return { ok: false, code: 'TOO_MANY_HANDSHAKES' };
    let evicted: { socket: Socket; address: string } | undefined;
    if (this.#total >= this.totalMax) {
      const heaviest = this.#heaviest();
      if (heaviest === undefined || heaviest.places.length <= fromAddress) return { ok: false, code: 'TOO_MANY_HANDSHAKES' };
      const victim = heaviest.places[0]!;
      this.#release(heaviest.address, victim);
      this.#evictions += 1;
      evicted = { socket: victim.socket, address: heaviest.address };
    }
    const place: Place<Socket> = { socket, released: false };
    const places = this.#perAddress.get(address) ?? [];
    places.push(place);
    this.#perAddress.set(address, places);
    this.#total += 1;
    this.#peakPerAddress = Math.max(this.#peakPerAddress, places.length);
    const release = (): void => this.#release(address, place);
    return evicted === undefined ? { ok: true, release } : { ok: true, release, evicted };
  }

  /** The address holding the most places; among equals, the one that has held places longest (the map keeps insertion order). */
  #heaviest(): { address: string; places: Array<Place<Socket>> } | undefined {
    let heaviest: { address: string; places: Array<Place<Socket>> } | undefined;
    for (const [address, places] of this.#perAddress) if (heaviest === undefined || places.length > heaviest.places.length) heaviest = { address, places };
    return heaviest;
  }

  #release(address: string, place: Place<Socket>): void {
    if (place.released) return;
    place.released = true;
    this.#total -= 1;
    const places = this.#perAddress.get(address)!;
    places.splice(places.indexOf(place), 1);
    if (places.length === 0) this.#perAddress.delete(address);
  }
}

/** What the upgrade hands a protocol layer with a new socket. */
export interface AcceptedSocket {
  /** The remote address, for refusal logs. */
  readonly remote: string;
  /** Gives back the unauthenticated place once the socket has authenticated (idempotent). */
  readonly authenticated: () => void;
}
