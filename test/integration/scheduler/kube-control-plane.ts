/**
 * The control plane as its own process, for the kill -9 test: a scheduler host with the Kubernetes
 * executor and a job store of fsync'd files (one per job, written to a temp file and renamed). On
 * start it recovers from the store, then submits the whole workload with its idempotency keys (a
 * restarted process gets the same jobs back). Usage: <server> <token> <caFile> <storeDir>.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { KubernetesExecutor, resolveConfig, SchedulerHost, type JobRecord, type JobStore } from '../../../actors/scheduler/index.js';
import { kubeConfigInput, kubeNodes, kubeWorkload, namespace } from './kube-workload.js';

class FileJobStore implements JobStore {
  constructor(private readonly directory: string) {
    mkdirSync(directory, { recursive: true });
  }
  async load(): Promise<JobRecord[]> {
    return readdirSync(this.directory).filter((name) => name.endsWith('.json')).map((name) => JSON.parse(readFileSync(join(this.directory, name), 'utf8')) as JobRecord);
  }
  async put(job: JobRecord): Promise<void> {
    const temp = join(this.directory, `${job.id}.tmp`);
    const descriptor = openSync(temp, 'w');
    try {
      writeSync(descriptor, JSON.stringify(job));
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
    renameSync(temp, join(this.directory, `${job.id}.json`));
  }
  async remove(jobId: string): Promise<void> {
    rmSync(join(this.directory, `${jobId}.json`), { force: true });
  }
}

const [server, token, caFile, storeDir] = process.argv.slice(2) as [string, string, string, string];
const kubeConfig = new k8s.KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: 'test', server, caFile }], users: [{ name: 'admin', token }], contexts: [{ name: 'test', cluster: 'test', user: 'admin' }], currentContext: 'test',
});
const route: { host?: SchedulerHost } = {};
const executor = await KubernetesExecutor.start({
  kubeConfig, namespace, clock: Date.now, report: (report) => route.host?.tell(report), onError: (error) => console.error(`executor: ${String(error)}`),
});
const host = await SchedulerHost.start({ config: resolveConfig(kubeConfigInput), store: new FileJobStore(storeDir), nodes: kubeNodes.map((spec) => ({ spec, ready: true })), clock: Date.now }, () => executor);
route.host = host;
for (const { key, spec } of kubeWorkload()) {
  const reply = await host.submit(key, spec);
  console.log(`submitted ${key}: ${JSON.stringify(reply)}`);
}
console.log('control plane ready');
