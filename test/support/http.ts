/**
 * HTTP requests from tests to a node's HTTP face. Each request asks for its own connection
 * (`connection: close`) instead of reusing a pooled keep-alive socket: a test that pauses between
 * requests (a CLI run, a kill, a restart) may come back to a socket the server has just closed as
 * idle, and a request written into it fails with "other side closed". A fresh connection has no such
 * window, and what the test proves (routes, status codes, bodies) does not depend on reuse.
 */

/** `fetch` with a connection of its own; options and result are fetch's. */
export function httpGet(url: string, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
  return fetch(url, { ...init, method: 'GET', headers: { ...init.headers, connection: 'close' } });
}
