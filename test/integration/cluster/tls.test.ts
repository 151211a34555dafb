/**
 * Links over TLS (wss://) with mutual TLS between nodes: two nodes with certificates from one CA form
 * a cluster and carry an ask; a dialer without a client certificate is refused before any handshake;
 * clients need no certificate (they use their token) but must speak TLS.
 */
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createClusterNode, demoChildren, type ClusterNode } from '../../../cluster/index.js';
import { makeCertificates, type TestCertificates } from '../../support/cluster-certs.js';
import { removeDir, tempDir } from '../../support/cluster-harness.js';
import { waitFor } from '../../support/wait.js';

const secret = 'tls-test-secret';
const token = 'tls-test-token';

describe('TLS links', () => {
  let dir: string;
  let certificates: TestCertificates;
  let n1: ClusterNode;
  let n2: ClusterNode;

  beforeAll(async () => {
    dir = await tempDir('tls');
    certificates = makeCertificates(dir);
    const tls = { ...certificates, requireClientCert: true };
    n1 = await createClusterNode({ name: 'n1', listen: '127.0.0.1:0', secret, tokens: [token], tls });
    n2 = await createClusterNode({ name: 'n2', listen: '127.0.0.1:0', secret, tokens: [token], tls, seeds: [n1.address], children: (node) => demoChildren(node) });
    await waitFor(() => n1.member('n2')?.status === 'up' && n2.member('n2')?.status === 'up', { timeoutMs: 20_000, what: 'n2 up over TLS' });
  }, 60_000);

  afterAll(async () => {
    await n2?.stop();
    await n1?.stop();
    await removeDir(dir);
  });

  it('forms a cluster over mutual TLS and carries an ask', async () => {
    expect(n1.address.startsWith('wss://')).toBe(true);
    expect(await n1.system.ask({ node: 'n2', path: '/root/demo/echo' }, 'over tls')).toEqual({ type: 'echo', body: 'over tls' });
  });

  it('refuses a node dialler without a client certificate', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${n1.port}/cluster`, { ca: certificates.ca });
      ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      ws.once('open', () => reject(new Error('a dialler without a certificate got in')));
      ws.once('error', () => {});
    });
    expect(status).toBe(401);
  });

  it('serves clients over TLS with a token and no certificate, and refuses plain WebSocket', async () => {
    const client = await connect(`wss://127.0.0.1:${n1.port}`, { token, tls: { ca: certificates.ca } });
    const tree = await client.tree();
    expect(tree.nodes.map((node) => node.node).sort()).toEqual(['n1', 'n2']);
    await client.close();
    await expect(connect(`ws://127.0.0.1:${n1.port}`, { token, reconnect: false, connectTimeoutMs: 5_000 })).rejects.toMatchObject({ code: 'CONNECTION_FAILED' });
  });
});
