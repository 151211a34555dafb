/**
 * The HTTP listener: one node:http server whose requests are each handled as their own task (parse,
 * authenticate, run the operation, answer), at most `requestsMax` at once (more get 503 SlowDown).
 * Each task's memory is bounded by the store's chunk size times the chunks it keeps in flight; bodies
 * stream through, with back-pressure from the KV writes (the request is not read while its chunk
 * writes are pending) and from the socket (a GET waits for 'drain').
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessKeys, type S3Credentials } from './access-keys.js';
import { S3Error } from './errors.js';
import type { ObjectKv } from './kv.js';
import { runOperation } from './operations.js';
import { parseRequest, type S3Request } from './request.js';
import { errorDocument } from './responses.js';
import { ObjectStore, type StoreLimits } from './store.js';
import { Uploads } from './uploads.js';
import type { MultipartLimits } from './core/multipart.js';

/** Options of a gateway. */
export interface S3GatewayOptions {
  readonly kv: ObjectKv;
  /** `host:port` to listen on (port 0: any free port). */
  readonly listen: string;
  readonly credentials?: readonly S3Credentials[];
  /** Base domains of virtual-host-style addressing (`<bucket>.<domain>`). */
  readonly domains?: readonly string[];
  readonly requestsMax?: number;
  readonly limits?: Partial<StoreLimits>;
  readonly multipartLimits?: Partial<MultipartLimits>;
  readonly nowMs?: () => number;
  /** Told about unexpected failures (500s), for logs. */
  readonly onInternalError?: (error: unknown) => void;
}

/** Counters of a gateway. */
export interface GatewayStats {
  active: number;
  served: number;
  failed: number;
  refused: number;
}

export const newId = (): string => randomBytes(16).toString('hex');

/** Subresources an anonymous reader of a public bucket may not ask for (its configuration, uploads, versions). */
const anonymousSubresources = new Set(['acl', 'versioning', 'versions', 'uploads', 'uploadId', 'location', 'policy', 'tagging', 'cors', 'lifecycle']);

/** A running S3 gateway. */
export class S3Gateway {
  readonly store: ObjectStore;
  readonly uploads: Uploads;
  readonly stats: GatewayStats = { active: 0, served: 0, failed: 0, refused: 0 };
  readonly #server: Server;
  readonly #options: S3GatewayOptions;
  readonly #keys: AccessKeys;
  readonly #now: () => number;

  private constructor(options: S3GatewayOptions) {
    this.#options = options;
    this.#now = options.nowMs ?? (() => Date.now());
    this.store = new ObjectStore({ kv: options.kv, nowMs: this.#now, newId, ...(options.limits ? { limits: options.limits } : {}) });
    this.uploads = new Uploads(this.store, options.multipartLimits);
    this.#keys = new AccessKeys({ kv: options.kv, nowMs: this.#now, ...(options.credentials ? { credentials: options.credentials } : {}) });
    this.#server = createServer({ keepAliveTimeout: 5_000, requestTimeout: 0 }, (request, response) => void this.#handle(request, response));
  }

  /** Starts listening. */
  static async start(options: S3GatewayOptions): Promise<S3Gateway> {
    const gateway = new S3Gateway(options);
    const at = options.listen.lastIndexOf(':');
    const host = options.listen.slice(0, at);
    const port = Number(options.listen.slice(at + 1));
    await new Promise<void>((resolve, reject) => {
      gateway.#server.once('error', reject);
      gateway.#server.listen(port, host, () => {
        gateway.#server.off('error', reject);
        resolve();
      });
    });
    return gateway;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Called once if the server fails after it started. */
  onServerError(listener: (error: Error) => void): void {
    this.#server.on('error', listener);
  }

  async close(): Promise<void> {
    this.#server.closeIdleConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      setTimeout(() => this.#server.closeAllConnections(), 2_000).unref();
    });
  }

  async #handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = newId().slice(0, 16).toUpperCase();
    response.setHeader('x-amz-request-id', requestId);
    response.setHeader('server', 'troupe-s3');
    if (this.stats.active >= (this.#options.requestsMax ?? 64)) {
      this.stats.refused += 1;
      return this.#fail(incoming, response, new S3Error('SlowDown', 'Please reduce your request rate.'), requestId);
    }
    this.stats.active += 1;
    try {
      const request = await parseRequest(incoming, { domains: this.#options.domains ?? [], keys: this.#keys, nowMs: this.#now() });
      await this.#authorize(request);
      await runOperation(request, response, { store: this.store, uploads: this.uploads, requestId });
      this.stats.served += 1;
    } catch (error) {
      this.stats.failed += 1;
      this.#fail(incoming, response, error, requestId);
    } finally {
      this.stats.active -= 1;
    }
  }

  /** Anonymous requests may only read objects and listings of a bucket marked public-read. */
  async #authorize(request: S3Request): Promise<void> {
    if (request.auth !== undefined) return;
    const reading = request.method === 'GET' || request.method === 'HEAD';
    const subresource = [...request.query.keys()].some((name) => anonymousSubresources.has(name));
    if (reading && request.bucket !== undefined && !subresource) {
      const bucket = await this.store.bucket(request.bucket).catch(() => undefined);
      if (bucket?.record.publicRead === true) return;
    }
    throw new S3Error('AccessDenied', 'Access Denied');
  }

  #fail(incoming: IncomingMessage, response: ServerResponse, error: unknown, requestId: string): void {
    const s3Error = error instanceof S3Error ? error : new S3Error('InternalError', 'We encountered an internal error. Please try again.');
    if (!(error instanceof S3Error) || s3Error.status >= 500) this.#options.onInternalError?.(error);
    if (response.headersSent) {
      // The body was already under way: the only honest signal left is a cut connection.
      response.destroy();
      return;
    }
    const resource = (incoming.url ?? '/').split('?')[0]!;
    const body = incoming.method === 'HEAD' ? '' : errorDocument(s3Error, resource, requestId);
    const headers: Record<string, string> = { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) };
    if (!incoming.complete) {
      // The rest of the body is not read: close after answering, and discard what still arrives.
      headers.connection = 'close';
      incoming.resume();
    }
    response.writeHead(s3Error.status, headers);
    response.end(body);
  }
}
