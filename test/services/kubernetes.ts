/**
 * A real Kubernetes API server for tests: kube-apiserver (and kube-scheduler) v1.37.2 built from the
 * Go module proxy as dependencies of a throwaway module (see ../shared KUBERNETES.md for why: the
 * staging modules must be replaced by their published v0.37.2 tags), cached under
 * `~/.cache/troupe/kubernetes-v1.37.2/bin`, so only a fresh machine pays for the build (about 25
 * minutes on 2 busy cores). It starts over a fresh etcd (Debian's 3.4, see etcd.ts) on loopback with a
 * self-signed serving certificate and a static token of `system:masters`.
 *
 * etcd 3.4 lacks RequestWatchProgress, so the WatchList feature is turned off (clients list, then
 * watch from the list's resourceVersion). No controller manager, scheduler or kubelet runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureEtcd } from './etcd.js';
import { cacheRoot, freePort, startService, waitFor, type ServiceProcess } from './process.js';

export const kubernetesVersion = '1.37.2';

/**
 * Paths of the cached binaries, building what is missing first. The tests need only kube-apiserver;
 * the scheduler bench asks for kube-scheduler too (`{ scheduler: true }`), so a fresh machine running
 * `npm test` builds one binary, not two.
 */
export function ensureKubernetesBinaries(options: { scheduler?: boolean } = {}): { apiserver: string; scheduler: string } {
  const root = join(cacheRoot(), `kubernetes-v${kubernetesVersion}`);
  const bin = join(root, 'bin');
  const apiserver = join(bin, 'kube-apiserver');
  const scheduler = join(bin, 'kube-scheduler');
  const missing = [['kube-apiserver', apiserver], ...(options.scheduler === true ? [['kube-scheduler', scheduler]] : [])].filter(([, path]) => !existsSync(path!)).map(([name]) => name!);
  if (missing.length === 0) return { apiserver, scheduler };
  const source = join(root, 'src');
  mkdirSync(source, { recursive: true });
  mkdirSync(bin, { recursive: true });
  const minor = kubernetesVersion.split('.')[1]!;
  const script = [
    'set -eu',
    `go mod download -json k8s.io/kubernetes@v${kubernetesVersion} >/dev/null`,
    `MOD="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v${kubernetesVersion}.mod"`,
    `{ echo "module troupe.local/kubebuild"; echo "go 1.26.0"; echo "require k8s.io/kubernetes v${kubernetesVersion}";`,
    `  grep -E '^\\s*k8s.io/[a-z0-9-]+ => ./staging' "$MOD" | awk '{print "replace " $1 " => " $1 " v0.${minor}.${kubernetesVersion.split('.')[2]}"}'; } > go.mod`,
    `printf '//go:build tools\\npackage tools\\nimport (\\n\\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\\n\\t_ "k8s.io/kubernetes/cmd/kube-scheduler"\\n)\\n' > tools.go`,
    'GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true',
    `LD="-s -w -X k8s.io/component-base/version.gitVersion=v${kubernetesVersion} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}"`,
    `for name in ${missing.join(' ')}; do GOFLAGS=-mod=mod go build -ldflags "$LD" -o ../bin/$name.tmp k8s.io/kubernetes/cmd/$name && mv ../bin/$name.tmp ../bin/$name; done`,
  ].join('\n');
  const built = spawnSync('sh', ['-c', script], { cwd: source, encoding: 'utf8', stdio: 'pipe', timeout: 90 * 60_000 });
  if (built.status !== 0) throw new Error(`building kube-apiserver ${kubernetesVersion} failed:\n${(built.stderr ?? '').slice(-3_000)}`);
  return { apiserver, scheduler };
}

/** A running etcd + kube-apiserver and what a client needs to reach it. */
export class KubeApiServer {
  private constructor(
    readonly url: string, readonly token: string, readonly caFile: string, readonly directory: string,
    private readonly etcd: ServiceProcess, private readonly apiserver: ServiceProcess,
  ) {}

  static async start(): Promise<KubeApiServer> {
    const { apiserver: binary } = ensureKubernetesBinaries();
    ensureEtcd();
    const directory = mkdtempSync(join(tmpdir(), 'troupe-kube-'));
    const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcd = startService('kube-etcd', 'etcd', [
      '--name', 'kube', '--data-dir', join(directory, 'etcd'), '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `kube=${peerUrl}`, '--log-level', 'warn',
      '--unsafe-no-fsync',
    ], { logPath: join(directory, 'etcd.log'), cleanupPaths: [] });
    const openssl = (args: string[]): void => {
      const result = spawnSync('openssl', args, { cwd: directory, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
    };
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=troupe-test-ca']);
    writeFileSync(join(directory, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n');
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver']);
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.cnf']);
    openssl(['genrsa', '-out', 'sa.key', '2048']);
    openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
    const token = `troupe-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(directory, 'tokens.csv'), `${token},troupe-admin,1,"system:masters"\n`);
    const apiserver = startService('kube-apiserver', binary, [
      `--etcd-servers=${etcdUrl}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${securePort}`,
      '--endpoint-reconciler-type=none', `--tls-cert-file=${join(directory, 'server.crt')}`, `--tls-private-key-file=${join(directory, 'server.key')}`,
      `--client-ca-file=${join(directory, 'ca.crt')}`, `--token-auth-file=${join(directory, 'tokens.csv')}`, '--authorization-mode=RBAC', '--anonymous-auth=false',
      '--service-account-issuer=https://kubernetes.default.svc', `--service-account-key-file=${join(directory, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(directory, 'sa.key')}`, '--service-cluster-ip-range=10.96.0.0/24', '--feature-gates=WatchList=false',
    ], { logPath: join(directory, 'apiserver.log'), cleanupPaths: [directory] });
    const server = new KubeApiServer(`https://127.0.0.1:${securePort}`, token, join(directory, 'ca.crt'), directory, etcd, apiserver);
    try {
      await waitFor('kube-apiserver /readyz', async () => (server.ready() ? true : undefined), { timeoutMs: 120_000, intervalMs: 500, abort: () => apiserver.exited() ?? etcd.exited() });
    } catch (error) {
      await server.stop();
      throw new Error(`${(error as Error).message}\n${apiserver.logTail()}`);
    }
    return server;
  }

  /** Whether /readyz answers ok (curl, because Node's fetch does not trust the custom CA). */
  private ready(): boolean {
    const result = spawnSync('curl', ['-sf', '--max-time', '2', '--cacert', this.caFile, '-H', `Authorization: Bearer ${this.token}`, `${this.url}/readyz`], { encoding: 'utf8' });
    return result.status === 0 && result.stdout.trim() === 'ok';
  }

  async stop(): Promise<void> {
    await this.apiserver.stop({ graceMs: 5_000 });
    await this.etcd.stop({ graceMs: 5_000 });
  }
}
