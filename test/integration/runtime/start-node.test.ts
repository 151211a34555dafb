import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait.js';

describe('npm start', () => {
  it('starts a node that prints its supervision tree, and stops cleanly with exit 0 on SIGINT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/start-node.ts'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => output.includes('(Ctrl-C to stop)'), { timeoutMs: 30_000, what: 'the node to start' });
    expect(output).toMatch(/root {2}\[supervisor root\] running/);
    expect(output).toMatch(/heartbeat {2}\[worker heartbeat\] running restarts=0/);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('node n1 stopped (exit 0)');
  });
});
