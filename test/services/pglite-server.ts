/**
 * Child program: an in-memory PGlite database with pgvector, served over TCP by pglite-socket.
 * Started by pglite.ts as `node --import tsx pglite-server.ts <workDirectory>`; prints one JSON line
 * `{"port":N}` once it accepts connections. It exits when its stdin closes, so it never outlives the
 * test run that started it, even one killed with SIGKILL.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** PGlite is one backend; the socket server multiplexes this many client connections onto it. */
const connectionsMax = 64;

async function main(): Promise<void> {
  const db = await PGlite.create({ extensions: { vector } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: connectionsMax });
  await server.start();
  const address = server.getServerConn();
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await server.stop();
    await db.close();
    process.exit(0);
  };
  process.stdin.on('end', () => void close());
  process.stdin.on('close', () => void close());
  process.stdin.resume();
  process.on('SIGTERM', () => void close());
  process.on('SIGINT', () => void close());
}

main().catch((error: unknown) => {
  process.stderr.write(`pglite-server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
