/**
 * A TCP proxy for tests that can cut and heal a link. While cut, existing connections are destroyed
 * (bytes in flight inside the proxy are lost, as on a real partition) and new connections are either
 * reset at once or held open and silent ("blackhole", like packets dropped by a firewall), so both
 * the refused-connection and the stalled-connection paths of the peers are exercised.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** How a cut treats new connections. */
export type CutMode = 'blackhole' | 'reset';

/** A proxy from a local port to `target`. */
export class TcpProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  readonly #held = new Set<Socket>();
  #cut: CutMode | undefined;
  /** Connections accepted since start (to check that traffic really went through the proxy). */
  accepted = 0;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /** Starts a proxy to `targetHost:targetPort` on `port` (0: any free port). */
  static start(targetHost: string, targetPort: number, port = 0): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      let proxy: TcpProxy | undefined;
      const server = createServer((client) => proxy!.accept(client, targetHost, targetPort));
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        proxy = new TcpProxy(server, typeof address === 'object' && address !== null ? address.port : port);
        resolve(proxy);
      });
    });
  }

  /** True while the link is cut. */
  get isCut(): boolean {
    return this.#cut !== undefined;
  }

  /** Live proxied connections. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Cuts the link: destroys every connection and treats new ones by `mode`. */
  cut(mode: CutMode = 'blackhole'): void {
    this.#cut = mode;
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  /** Heals the link: new connections flow again; connections held during the cut are dropped. */
  heal(): void {
    this.#cut = undefined;
    for (const socket of this.#held) socket.destroy();
    this.#held.clear();
  }

  /** Stops the proxy and drops every connection. */
  close(): Promise<void> {
    this.cut('reset');
    this.heal();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  private accept(client: Socket, targetHost: string, targetPort: number): void {
    client.on('error', () => client.destroy());
    if (this.#cut === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (this.#cut === 'blackhole') {
      // Read and discard: the peer sees an open connection that never answers.
      client.on('data', () => {});
      client.on('close', () => this.#held.delete(client));
      this.#held.add(client);
      return;
    }
    this.accepted += 1;
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const drop = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', drop);
    client.on('error', drop);
    upstream.on('close', drop);
    client.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
