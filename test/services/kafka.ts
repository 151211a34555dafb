/**
 * A real single-node Apache Kafka broker (KRaft, combined broker + controller) for tests.
 *
 * The jars come from Maven Central through `kafka/pom.xml` and are cached per version outside the
 * repository; each start formats a fresh log directory in a temp dir, runs the broker with `java` on
 * free loopback ports, and waits until a kafkajs admin client sees the cluster. Stopping kills the
 * broker's process group and removes the temp dir.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { cacheRoot, freePort, moveIntoPlace, run, startService, waitFor } from './process.js';

/** The pinned broker version (see README.md for why). */
export const kafkaVersion = '4.3.1';

/** A running broker. */
export interface KafkaService {
  /** `host:port` of the PLAINTEXT listener, as kafkajs wants it. */
  readonly brokers: string;
  readonly version: string;
  stop(): Promise<void>;
}

const pomPath = join(dirname(fileURLToPath(import.meta.url)), 'kafka', 'pom.xml');

/** Fetches the broker jars into the cache once; later calls return the cached directory. */
export async function ensureKafkaJars(version = kafkaVersion): Promise<string> {
  const target = join(cacheRoot(), `kafka-${version}`);
  const libDirectory = join(target, 'lib');
  if (existsSync(join(target, 'complete'))) return libDirectory;
  // Fetch into a private directory and rename it into place, so that two test runs fetching at the
  // same time never see each other's half-copied jars.
  const staging = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await run('mvn', ['-q', '-B', '-f', pomPath, 'dependency:copy-dependencies', '-DincludeScope=runtime',
      `-Dkafka.version=${version}`, `-DoutputDirectory=${join(staging, 'lib')}`], { timeoutMs: 600_000 });
    const jars = readdirSync(join(staging, 'lib')).filter((name) => name.endsWith('.jar'));
    if (!jars.some((name) => name.startsWith(`kafka_2.13-${version}`))) throw new Error(`maven fetched no kafka_2.13-${version} jar`);
    writeFileSync(join(staging, 'complete'), `${jars.length} jars\n`);
    moveIntoPlace(staging, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return libDirectory;
}

/** KRaft cluster ids are 16 random bytes in URL-safe base64 without padding. */
function clusterId(): string {
  return randomBytes(16).toString('base64url');
}

function brokerProperties(options: { dataDirectory: string; brokerPort: number; controllerPort: number }): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${options.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${options.brokerPort},CONTROLLER://127.0.0.1:${options.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${options.brokerPort}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${join(options.dataDirectory, 'logs')}`,
    'num.partitions=1',
    'auto.create.topics.enable=true',
    // One broker: every internal topic has one replica; fewer offsets partitions load faster.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Tests rebalance on purpose: no initial delay, and short sessions allowed so a killed consumer's
    // partitions move in seconds rather than the default 45 s.
    'group.initial.rebalance.delay.ms=0',
    'group.min.session.timeout.ms=1000',
    '',
  ].join('\n');
}

/** Formats and starts a broker; rejects (with the broker's log tail) if it is not ready in time. */
export async function startKafka(options: { version?: string; readyTimeoutMs?: number } = {}): Promise<KafkaService> {
  const version = options.version ?? kafkaVersion;
  const libDirectory = await ensureKafkaJars(version);
  const dataDirectory = mkdtempSync(join(tmpdir(), 'troupe-kafka-'));
  try {
    const [brokerPort, controllerPort] = [await freePort(), await freePort()];
    const propertiesPath = join(dataDirectory, 'server.properties');
    writeFileSync(propertiesPath, brokerProperties({ dataDirectory, brokerPort, controllerPort }));
    const classPath = join(libDirectory, '*');
    const jvm = ['-Xmx512m', '-Xms128m', '-XX:+UseSerialGC', '-Djava.awt.headless=true', '-cp', classPath];
    await run('java', [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propertiesPath], { timeoutMs: 120_000 });
    const service = startService('kafka', 'java', [...jvm, 'kafka.Kafka', propertiesPath], {
      logPath: join(dataDirectory, 'broker.log'),
      cleanupPaths: [dataDirectory],
    });
    const brokers = `127.0.0.1:${brokerPort}`;
    try {
      await waitFor('kafka broker', () => describeCluster(brokers), { timeoutMs: options.readyTimeoutMs ?? 90_000, intervalMs: 200, abort: service.exited });
    } catch (error) {
      const tail = service.logTail();
      await service.stop({ signal: 'SIGKILL' });
      throw new Error(`${(error as Error).message}\n--- broker log ---\n${tail}`);
    }
    return { brokers, version, stop: () => service.stop({ graceMs: 10_000 }) };
  } catch (error) {
    rmSync(dataDirectory, { recursive: true, force: true });
    throw error;
  }
}

async function describeCluster(brokers: string): Promise<true | undefined> {
  const admin = new Kafka({ clientId: 'troupe-services', brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000 }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null ? true : undefined;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates topics and waits (with a deadline) until every partition has a leader. kafkajs's own
 * `waitForLeaders` gives up on the transient UNKNOWN_TOPIC_OR_PARTITION a busy broker answers while
 * the topic is still being created; here any error before the deadline is retried.
 */
export async function createTopicsReady(brokers: string, topics: ReadonlyArray<{ topic: string; numPartitions: number }>, timeoutMs = 30_000): Promise<void> {
  const admin = new Kafka({ clientId: 'troupe-services-topics', brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await waitFor('topic creation', async () => {
      await admin.createTopics({ topics: topics.map((topic) => ({ ...topic })), waitForLeaders: false });
      return true;
    }, { timeoutMs, intervalMs: 200 });
    await waitFor(`leaders of ${topics.map((topic) => topic.topic).join(', ')}`, async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: topics.map((topic) => topic.topic) });
      const ready = topics.every((wanted) => {
        const found = metadata.topics.find((topic) => topic.name === wanted.topic);
        return found !== undefined && found.partitions.length === wanted.numPartitions && found.partitions.every((partition) => partition.leader >= 0);
      });
      return ready ? true : undefined;
    }, { timeoutMs, intervalMs: 200 });
  } finally {
    await admin.disconnect();
  }
}
