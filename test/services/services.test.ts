/**
 * The test services are real and usable: kafkajs 2.2.4 produces, consumes and commits against the
 * pinned broker; both Postgres paths speak the wire protocol through `pg` and run pgvector HNSW
 * queries; the real server takes concurrent transactions; and stopping or reaping a service leaves no
 * process behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import pgvector from 'pgvector/pg';
import { describe, expect, it } from 'vitest';
import { selectedServices } from './global-setup.js';
import { requiredServices } from './index.js';
import { pgliteServerPath } from './pglite.js';
import { startPostgres } from './postgres.js';
import { createTopicsReady } from './kafka.js';
import { cacheRoot, reapStale, signalGroup, waitFor } from './process.js';
import { committedOffsets } from '../support/kafka-offsets.js';

const addresses = requiredServices();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('TROUPE_SERVICES', () => {
  it('parses all, none and lists, and refuses unknown names', () => {
    expect([...selectedServices(undefined)].sort()).toEqual(['kafka', 'pglite', 'postgres']);
    expect(selectedServices('none').size).toBe(0);
    expect([...selectedServices('kafka, pglite')].sort()).toEqual(['kafka', 'pglite']);
    expect(() => selectedServices('kafka,redis')).toThrow(/unknown service "redis"/);
  });
});

describe('kafka broker', () => {
  it('kafkajs produces, consumes from a group with manual commits, and reads the committed offsets back', async () => {
    const kafka = new Kafka({ clientId: 'services-test', brokers: [addresses.kafkaBrokers], logLevel: logLevel.NOTHING });
    const topic = `services-${Date.now()}`;
    const admin = kafka.admin();
    const producer = kafka.producer({ idempotent: true });
    const consumer = kafka.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 200 });
    await admin.connect();
    try {
      await createTopicsReady(addresses.kafkaBrokers, [{ topic, numPartitions: 3 }]);
      await producer.connect();
      const sent = Array.from({ length: 30 }, (_, index) => ({ key: `k${index}`, value: `v${index}` }));
      await producer.send({ topic, messages: sent });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received: string[] = [];
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset }) => {
          for (const message of batch.messages) {
            received.push(message.value!.toString());
            resolveOffset(message.offset);
          }
          await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
        },
      });
      await waitFor('all messages', async () => (received.length >= sent.length ? true : undefined), { timeoutMs: 30_000 });
      expect(received.sort()).toEqual(sent.map((message) => message.value).sort());
      await consumer.stop();
      const committed = await committedOffsets(admin, `${topic}-group`, topic);
      const total = Object.values(committed).reduce((sum, offset) => sum + offset, 0);
      expect(total).toBe(sent.length);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});

async function vectorRoundTrip(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const table = `services_vectors_${process.pid}_${Date.now()}`;
  try {
    await pgvector.registerTypes(client);
    await client.query(`CREATE TABLE ${table} (id text PRIMARY KEY, embedding vector(3))`);
    await client.query(`CREATE INDEX ON ${table} USING hnsw (embedding vector_cosine_ops)`);
    const rows: Array<[string, number[]]> = [['x', [1, 0, 0]], ['y', [0, 1, 0]], ['xy', [1, 1, 0]], ['z', [0, 0, 1]]];
    for (const [id, embedding] of rows) await client.query(`INSERT INTO ${table} VALUES ($1, $2)`, [id, pgvector.toSql(embedding)]);
    const result = await client.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY embedding <=> $1 LIMIT 3`, [pgvector.toSql([1, 0.1, 0])]);
    return result.rows.map((row) => row.id);
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  }
}

describe('pglite server', () => {
  it('answers pgvector cosine queries through pg', async () => {
    expect(await vectorRoundTrip(addresses.pgliteUrl)).toEqual(['x', 'xy', 'y']);
  });
});

describe('postgres server', () => {
  it('answers pgvector cosine queries through pg', async () => {
    expect(await vectorRoundTrip(addresses.databaseUrl)).toEqual(['x', 'xy', 'y']);
  });

  it('holds two transactions open at once on separate connections (which PGlite cannot)', async () => {
    const first = new pg.Client({ connectionString: addresses.databaseUrl });
    const second = new pg.Client({ connectionString: addresses.databaseUrl });
    await first.connect();
    await second.connect();
    try {
      await first.query('BEGIN');
      await second.query('BEGIN');
      const [a, b] = await Promise.all([first.query('SELECT txid_current() AS id'), second.query('SELECT txid_current() AS id')]);
      expect(a.rows[0].id).not.toBe(b.rows[0].id);
      await first.query('COMMIT');
      await second.query('COMMIT');
    } finally {
      await first.end();
      await second.end();
    }
  });
});

describe('service lifecycle', () => {
  it('stopping a postgres server ends its whole process tree', async () => {
    const service = await startPostgres();
    try {
      const client = new pg.Client({ connectionString: service.url });
      await client.connect();
      const pids = (await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL')).rows.map((row) => row.pid);
      await client.end();
      expect(pids.length).toBeGreaterThan(1);
      await service.stop();
      await waitFor('server processes gone', async () => (pids.every((pid) => !isAlive(pid)) ? true : undefined), { timeoutMs: 10_000 });
    } finally {
      await service.stop(); // idempotent; a failed assertion above must not leave the server running
    }
  });

  it('a pglite server exits by itself when the process that started it is killed with SIGKILL', async () => {
    const work = mkdtempSync(join(tmpdir(), 'troupe-pglite-guard-'));
    // An intermediate parent that starts the server with a stdin pipe and prints the server's pid.
    const parentScript = `const c = require('node:child_process').spawn(process.execPath, ['--import', 'tsx', ${JSON.stringify(pgliteServerPath)}, ${JSON.stringify(work)}], { stdio: ['pipe', 'inherit', 'inherit'] }); console.log(JSON.stringify({ pid: c.pid }));`;
    const parent = spawn(process.execPath, ['-e', parentScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    parent.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    try {
      const serverPid = await waitFor('server pid and port', async () => {
        const pid = /"pid":(\d+)/.exec(output)?.[1];
        return pid !== undefined && output.includes('"port":') ? Number(pid) : undefined;
      }, { timeoutMs: 60_000 });
      expect(isAlive(serverPid)).toBe(true);
      parent.kill('SIGKILL');
      await waitFor('orphaned pglite server gone', async () => (isAlive(serverPid) ? undefined : true), { timeoutMs: 15_000 });
    } finally {
      parent.kill('SIGKILL');
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('reaping', () => {
  it('kills a recorded service group whose owning run died, and removes its temp dir', async () => {
    const work = mkdtempSync(join(tmpdir(), 'troupe-reap-'));
    // A stand-in service that mentions its temp dir on its command line, as the real ones do.
    const marked = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300000)', work], { detached: true, stdio: 'ignore' });
    try {
      const deadOwner = spawn(process.execPath, ['-e', '0']);
      await new Promise((resolve) => deadOwner.once('exit', resolve));
      mkdirSync(join(cacheRoot(), 'run'), { recursive: true });
      writeFileSync(join(cacheRoot(), 'run', `test-${marked.pid}.json`), JSON.stringify({ kind: 'test', pid: marked.pid, ownerPid: deadOwner.pid, cleanupPaths: [work] }));
      expect(reapStale()).toBeGreaterThanOrEqual(1);
      await waitFor('orphan gone', async () => (isAlive(marked.pid!) ? undefined : true), { timeoutMs: 5_000 });
      expect(existsSync(work)).toBe(false);
    } finally {
      // The reaper is what is under test; whatever it did, the stand-in does not outlive the test.
      if (marked.pid !== undefined) signalGroup(marked.pid, 'SIGKILL');
    }
  });
});
