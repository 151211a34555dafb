/**
 * The storage actor: a thin shell that owns one `Store` and serves the protocol of protocol.ts.
 *
 * - `init` opens the store, which recovers from disk (torn tail cut, snapshot restored if needed, WAL
 *   replayed). A supervisor restart runs it again, so a crash loses nothing that was acknowledged.
 *   Latent corruption makes `init` throw the typed `WalCorruptionError`: the actor does not start on
 *   damaged data.
 * - Writes are started in message order (the WAL index is assigned when the message is handled) and
 *   replied to when durable and applied, without blocking the mailbox: messages that arrive during an
 *   fsync join the next group commit.
 * - Reads see every write handled before them (they wait until those are applied).
 * - After a failed fsync the store refuses every write with WAL_FAILED (fail-stop); reads go on.
 * - `onStop` closes the store: accepted writes finish and LevelDB's lock is released for the next
 *   incarnation.
 */
import { describeError, type ActorContext, type Behaviour } from '../../runtime/index.js';
import { resolveStorageLimits, type StorageLimits } from './limits.js';
import { isStorageError } from './errors.js';
import type { Disk } from './disk.js';
import { failure, parseRequest, type ReadRequest, type StorageFailure, type StorageReply, type StorageRequest } from './protocol.js';
import { Store, type WriteOutcome } from './store.js';

/** Where the storage actor keeps its data. */
export interface StorageActorOptions {
  /** The data directory. */
  readonly directory: string;
  /** Disk for the WAL and snapshots (a `SimulatedDisk` in fault-injection tests). */
  readonly disk?: Disk;
  /** LevelDB's directory (defaults to `<directory>/kv`). */
  readonly kvDirectory?: string;
  readonly limits?: Partial<StorageLimits>;
  /** Name shown in the supervision tree. */
  readonly name?: string;
}

/** The actor's state: the open store. */
export interface StorageActorState {
  readonly store: Store;
}

/** Builds the storage actor's behaviour. */
export function storageBehaviour(options: StorageActorOptions): Behaviour<StorageActorState, StorageRequest> {
  const limits = resolveStorageLimits(options.limits);
  return {
    name: options.name ?? 'storage',
    async init() {
      const store = await Store.open({
        directory: options.directory,
        limits,
        ...(options.disk === undefined ? {} : { disk: options.disk }),
        ...(options.kvDirectory === undefined ? {} : { kvDirectory: options.kvDirectory }),
      });
      return { store };
    },
    receive(state, message, ctx) {
      if (isTerminated(message)) return state;
      const parsed = parseRequest(message, limits);
      if ('ok' in parsed) {
        respond(ctx, message, parsed);
        return state;
      }
      const done = ctx.replier();
      const reply = parsed.kind === 'write' ? state.store.write(parsed.command).then(writeReply) : serveRead(state.store, parsed.request);
      reply.then(done, (error: unknown) => done(errorReply(error)));
      return state;
    },
    async onStop(state) {
      await state?.store.close();
    },
    describe(state) {
      const status = state.store.status();
      return { appliedIndex: status.appliedIndex, walLastIndex: status.walLastIndex, segments: status.segments.length, snapshotIndex: status.snapshot?.index ?? 0, failed: status.failure?.code ?? null };
    },
  };
}

async function serveRead(store: Store, request: ReadRequest): Promise<StorageReply> {
  switch (request.type) {
    case 'storage.get':
      return { ok: true, value: (await store.get(request.key)) ?? null };
    case 'storage.scan':
      return { ok: true, ...(await store.scan(request)) };
    case 'storage.digest':
      return { ok: true, ...(await store.digest()) };
    case 'storage.snapshot': {
      const info = await store.snapshot();
      return { ok: true, name: info.name, index: info.index, bytes: info.bytes, checksum: info.checksum };
    }
    case 'storage.status':
      return { ok: true, ...store.status() };
  }
}

function writeReply(outcome: WriteOutcome): StorageReply {
  const { index, result } = outcome;
  if (!result.ok) return failure(result.code, result.message, index);
  switch (result.type) {
    case 'write':
      return { ok: true, index };
    case 'cas':
      return { ok: true, index, swapped: result.swapped, current: result.current };
    case 'increment':
      return { ok: true, index, value: result.value };
  }
}

/** Typed errors become `ok: false` replies with their code; anything else is reported as INTERNAL. */
function errorReply(error: unknown): StorageFailure {
  if (isStorageError(error)) return failure(error.code, error.message);
  return failure('INTERNAL', describeError(error).message);
}

/** Replies to an ask; a refused tell goes to dead letters so it is not lost silently. */
function respond(ctx: ActorContext<StorageRequest>, message: unknown, reply: StorageFailure): void {
  if (!ctx.reply(reply)) ctx.deadLetter(message, `${reply.code}: ${reply.message}`);
}

function isTerminated(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'terminated';
}
