/**
 * Vitest global setup: starts the real services the suite needs (see test/services/README.md) and
 * publishes their addresses to test files through `provide`, and to child processes through the
 * environment (KAFKA_BROKERS, DATABASE_URL, PGLITE_URL).
 *
 * TROUPE_SERVICES picks what starts: unset or `all` for everything, `none` for nothing, or a comma
 * list of `kafka`, `postgres`, `pglite`. An address already in the environment is used as it is (even
 * with `none`) and nothing is started for it. Services start in parallel; if one fails, the others are stopped before
 * the error is raised, so a failed setup leaves no broker or server behind.
 *
 * It also owns the end-of-run check that no test left a process behind: every child a test starts
 * through test/support/children.ts is recorded under this run's id (`TROUPE_TEST_RUN`, inherited by
 * the test workers); at teardown any recorded child still running is killed with its process group and
 * the run fails, naming it.
 */
import type { TestProject } from 'vitest/node';
import { kafkaVersion, startKafka } from './kafka.js';
import { ensureKubernetesBinaries, kubernetesVersion } from './kubernetes.js';
import { startPglite } from './pglite.js';
import { startPostgres } from './postgres.js';
import { killAllNow, reapStale, reapTestChildren, testRunVariable } from './process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `host:port` of the Kafka broker, or null when Kafka is off. */
    kafkaBrokers: string | null;
    /** URL of a multi-connection PostgreSQL server with pgvector, or null. */
    databaseUrl: string | null;
    /** URL of the embedded PGlite server with pgvector, or null. */
    pgliteUrl: string | null;
  }
}

type ServiceName = 'kafka' | 'postgres' | 'pglite';
const serviceNames: readonly ServiceName[] = ['kafka', 'postgres', 'pglite'];

/** Parses TROUPE_SERVICES. */
export function selectedServices(value: string | undefined): Set<ServiceName> {
  if (value === undefined || value === '' || value === 'all') return new Set(serviceNames);
  if (value === 'none') return new Set();
  const selected = new Set<ServiceName>();
  for (const name of value.split(',').map((part) => part.trim())) {
    if (!serviceNames.includes(name as ServiceName)) throw new Error(`TROUPE_SERVICES: unknown service ${JSON.stringify(name)} (use all, none, or a list of ${serviceNames.join(', ')})`);
    selected.add(name as ServiceName);
  }
  return selected;
}

interface Started {
  readonly name: ServiceName;
  readonly address: string;
  readonly stop: () => Promise<void>;
}

const environmentKeys: Record<ServiceName, string> = { kafka: 'KAFKA_BROKERS', postgres: 'DATABASE_URL', pglite: 'PGLITE_URL' };

async function startOne(name: ServiceName): Promise<Started> {
  const startedAtMs = Date.now();
  const service = name === 'kafka' ? await startKafka() : name === 'postgres' ? await startPostgres() : await startPglite();
  const address = 'brokers' in service ? service.brokers : service.url;
  const version = name === 'kafka' ? ` ${kafkaVersion}` : '';
  console.log(`[services] ${name}${version} ready at ${address} in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s`);
  return { name, address, stop: service.stop };
}

/** Starts the selected services; the returned function stops them. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const selected = selectedServices(process.env.TROUPE_SERVICES);
  const addresses: Record<ServiceName, string | null> = { kafka: null, postgres: null, pglite: null };
  const toStart: ServiceName[] = [];
  for (const name of serviceNames) {
    const existing = process.env[environmentKeys[name]];
    if (existing !== undefined && existing !== '') addresses[name] = existing;
    else if (selected.has(name)) toStart.push(name);
  }
  // The scheduler's Kubernetes tests start their own API server per file; its binaries are built
  // (once, into the cache, minutes on a fresh machine) here, so no test file pays for the build.
  if (selected.size === serviceNames.length) {
    const startedAtMs = Date.now();
    ensureKubernetesBinaries();
    console.log(`[services] kube-apiserver ${kubernetesVersion} binaries ready in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s`);
  }
  const runId = String(process.pid);
  process.env[testRunVariable] = runId;
  const reaped = reapStale();
  if (reaped > 0) console.log(`[services] reaped ${reaped} process group(s) left by a dead test run`);
  let started: Started[] = [];
  if (toStart.length > 0) {
    process.once('exit', killAllNow);
    const results = await Promise.allSettled(toStart.map(startOne));
    started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    if (failures.length > 0) {
      await stopAll(started);
      throw new AggregateError(failures, `test services failed to start: ${failures.map((failure) => (failure instanceof Error ? failure.message : String(failure))).join('\n\n')}`);
    }
    for (const service of started) addresses[service.name] = service.address;
  }
  for (const name of serviceNames) {
    const address = addresses[name];
    if (address !== null) process.env[environmentKeys[name]] = address;
  }
  project.provide('kafkaBrokers', addresses.kafka);
  project.provide('databaseUrl', addresses.postgres);
  project.provide('pgliteUrl', addresses.pglite);
  return async () => {
    await stopAll(started);
    process.off('exit', killAllNow);
    const leftovers = reapTestChildren(runId);
    if (leftovers.length > 0) {
      // vitest reports an error thrown here but still exits 0; the exit code must say the run failed.
      process.exitCode = 1;
      throw new Error(`tests left ${leftovers.length} process(es) running (now killed with their groups); each test must stop what it spawns:\n${leftovers.map((leftover) => `  pid ${leftover.pid}: ${leftover.commandLine}`).join('\n')}`);
    }
  };
}

async function stopAll(services: readonly Started[]): Promise<void> {
  const results = await Promise.allSettled(services.map((service) => service.stop()));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  if (failures.length > 0) throw new AggregateError(failures, 'test services failed to stop cleanly');
}
