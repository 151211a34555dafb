/**
 * Partitions for multi-process tests: one TCP proxy in front of each node (nodes advertise their
 * proxy, so every node-to-node connection passes through one), and a switch that isolates a node
 * from all the others in both directions.
 *
 * A node link is one connection per pair, dialled by either side, so cutting the isolated node's own
 * proxy is not enough: it would redial its peers through theirs. Each proxy therefore learns who
 * dialled a connection from the first WebSocket message (the link handshake's `hello`, which names
 * the dialer; client frames are masked, so the proxy unmasks it) and drops connections dialled by an
 * isolated node as well as connections to one. Dropped connections lose the bytes in flight, as on a
 * real partition.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A node behind the switch. */
export interface SwitchTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

interface Connection {
  readonly target: string;
  dialer: string | undefined;
  readonly client: Socket;
  readonly upstream: Socket;
}

/** Proxies for a set of nodes, with `isolate` and `heal`. */
export class PartitionSwitch {
  readonly #servers = new Map<string, { server: Server; port: number }>();
  readonly #connections = new Set<Connection>();
  readonly #isolated = new Set<string>();
  /** Connections dropped because of a partition (proof that it bit). */
  dropped = 0;

  /** Starts one proxy per target, each on a free loopback port. */
  static async start(targets: readonly SwitchTarget[]): Promise<PartitionSwitch> {
    const proxy = new PartitionSwitch();
    for (const target of targets) await proxy.#listen(target);
    return proxy;
  }

  /** The proxy port in front of `name` (what that node advertises). */
  port(name: string): number {
    const entry = this.#servers.get(name);
    if (entry === undefined) throw new Error(`no proxy for ${name}`);
    return entry.port;
  }

  /** Cuts `name` off from every other node until `heal`. */
  isolate(name: string): void {
    this.#isolated.add(name);
    for (const connection of [...this.#connections]) {
      if (connection.target === name || connection.dialer === name) this.#drop(connection);
    }
  }

  /** Ends every partition; nodes reconnect on their own. */
  heal(): void {
    this.#isolated.clear();
  }

  async close(): Promise<void> {
    for (const connection of [...this.#connections]) this.#drop(connection);
    await Promise.all([...this.#servers.values()].map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  #listen(target: SwitchTarget): Promise<void> {
    const server = createServer((client) => this.#accept(client, target));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        this.#servers.set(target.name, { server, port: typeof address === 'object' && address !== null ? address.port : 0 });
        resolve();
      });
    });
  }

  #accept(client: Socket, target: SwitchTarget): void {
    client.on('error', () => client.destroy());
    if (this.#isolated.has(target.name)) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const connection: Connection = { target: target.name, dialer: undefined, client, upstream };
    this.#connections.add(connection);
    let sniffed = Buffer.alloc(0);
    const sniff = (chunk: Buffer): void => {
      sniffed = Buffer.concat([sniffed, chunk]);
      const dialer = dialerOf(sniffed);
      if (dialer === undefined && sniffed.length < 65_536) return;
      client.off('data', sniff);
      connection.dialer = dialer ?? '';
      if (dialer !== undefined && this.#isolated.has(dialer)) this.#drop(connection);
    };
    client.on('data', sniff);
    const drop = (): void => this.#drop(connection);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  #drop(connection: Connection): void {
    if (!this.#connections.delete(connection)) return;
    if (this.#isolated.has(connection.target) || (connection.dialer !== undefined && this.#isolated.has(connection.dialer))) this.dropped += 1;
    connection.client.destroy();
    connection.upstream.destroy();
  }
}

/**
 * The node name in the first client WebSocket message after the HTTP upgrade, or undefined while
 * more bytes are needed. A connection that is not a node link (or whose first message names no node)
 * gives ''.
 */
export function dialerOf(bytes: Buffer): string | undefined {
  const headerEnd = bytes.indexOf('\r\n\r\n');
  if (headerEnd < 0) return undefined;
  if (!bytes.subarray(0, headerEnd).toString('latin1').startsWith('GET /cluster')) return '';
  const frame = bytes.subarray(headerEnd + 4);
  if (frame.length < 2) return undefined;
  const masked = (frame[1]! & 0x80) !== 0;
  let length = frame[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (frame.length < 4) return undefined;
    length = frame.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (frame.length < 10) return undefined;
    length = Number(frame.readBigUInt64BE(2));
    offset = 10;
  }
  const maskAt = offset;
  if (masked) offset += 4;
  if (frame.length < offset + length) return undefined;
  const payload = Buffer.from(frame.subarray(offset, offset + length));
  if (masked) for (let position = 0; position < payload.length; position += 1) payload[position]! ^= frame[maskAt + (position % 4)]!;
  return cborTextAfterKey(payload, 'node') ?? '';
}

/** Finds the CBOR text-string key `key` and returns the short text string that follows it. */
function cborTextAfterKey(payload: Buffer, key: string): string | undefined {
  const pattern = Buffer.concat([Buffer.from([0x60 + key.length]), Buffer.from(key)]);
  const at = payload.indexOf(pattern);
  if (at < 0) return undefined;
  const header = payload[at + pattern.length];
  if (header === undefined || header < 0x60 || header > 0x77) return undefined;
  const start = at + pattern.length + 1;
  return payload.subarray(start, start + (header - 0x60)).toString('utf8');
}
