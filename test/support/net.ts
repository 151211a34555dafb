/**
 * Network helpers for tests, benchmarks and the test services.
 */
import { createServer } from 'node:net';

/** A free TCP port on loopback (the OS picks it; it is released before returning, so there is a small window before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
