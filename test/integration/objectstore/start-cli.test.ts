/**
 * `npm start` serves the object store with a printed access key, and `troupe s3 ...` works against
 * it: make a bucket, copy a file up and down, list, remove; `troupe s3 keys create` stores a new key
 * in the replicated KV that the gateway then accepts, and `keys delete` revokes it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { childExited, runCli, spawnChild, stopAllChildren, stopChild } from '../../support/children.js';
import { waitFor } from '../../support/wait.js';

afterAll(stopAllChildren);

describe('npm start with the S3 gateway, and troupe s3', () => {
  it('prints an endpoint and key that the CLI and the SDK use; keys created through the CLI are accepted', { timeout: 240_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'troupe-s3-start-'));
    const child = spawnChild(process.execPath, ['--import', 'tsx', 'examples/start-node.ts'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TROUPE_LISTEN: '127.0.0.1:0', TROUPE_DATA: dataDir, TROUPE_TOKEN: 's3-start-token' },
    });
    try {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      await waitFor(() => output.includes('(Ctrl-C to stop)') || child.exitCode !== null, { timeoutMs: 120_000, what: 'the node to start' });
      expect(output).toMatch(/objectstore {2}\[supervisor objectstore-supervisor\] running/);
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
      const [, endpoint, accessKeyId, secretAccessKey] = /S3: +(http:\/\/127\.0\.0\.1:\d+) +export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)/.exec(output) ?? [];
      if (endpoint === undefined || accessKeyId === undefined || secretAccessKey === undefined) throw new Error(`no S3 line in the output:\n${output}`);
      const env = { ...process.env, TROUPE_URL: `ws://127.0.0.1:${port}`, TROUPE_TOKEN: 's3-start-token', TROUPE_S3_ENDPOINT: endpoint, TROUPE_S3_ACCESS_KEY: accessKeyId, TROUPE_S3_SECRET_KEY: secretAccessKey };
      const troupe = async (...words: string[]) => {
        const result = await runCli(['s3', ...words], { env });
        expect(result.code, `troupe s3 ${words.join(' ')}: ${result.stdout}${result.stderr}`).toBe(0);
        return result.stdout;
      };
      const file = join(dataDir, 'upload.txt');
      writeFileSync(file, 'uploaded through troupe s3 cp\n'.repeat(1000));
      expect(await troupe('mb', 's3://demo')).toContain('make_bucket: demo');
      expect(await troupe('cp', file, 's3://demo/docs/upload.txt')).toContain('upload:');
      expect(await troupe('ls', 's3://demo/')).toContain('PRE docs/');
      expect(await troupe('ls', 's3://demo/docs/')).toMatch(/30000 docs\/upload\.txt/);
      await troupe('cp', 's3://demo/docs/upload.txt', join(dataDir, 'download.txt'));
      expect(readFileSync(join(dataDir, 'download.txt'), 'utf8')).toBe(readFileSync(file, 'utf8'));
      const created = JSON.parse(await troupe('keys', 'create')) as { accessKeyId: string; secretAccessKey: string };
      expect(await troupe('keys', 'list')).toContain(created.accessKeyId);
      const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: created, maxAttempts: 1 });
      const got = await client.send(new GetObjectCommand({ Bucket: 'demo', Key: 'docs/upload.txt' }));
      expect((await got.Body!.transformToString()).length).toBe(30_000);
      client.destroy();
      await troupe('keys', 'delete', created.accessKeyId);
      expect(await troupe('rm', 's3://demo/docs/upload.txt')).toContain('delete:');
      expect(await troupe('rb', 's3://demo')).toContain('remove_bucket: demo');
      child.kill('SIGINT');
      expect((await childExited(child)).code).toBe(0);
    } finally {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
