import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeOnExit } from '../harness/proc.js';

export interface Capture {
  /** Ends the capture and returns every captured byte (pcap file: headers and whole packets). */
  stop(): Promise<Buffer>;
}

/** Packets reach the file a moment after they are sent: wait until it stops growing (at most 10 s). */
async function settled(file: string): Promise<void> {
  let last = -1;
  for (let waited = 0; waited < 10_000; waited += 500) {
    const { size } = await stat(file);
    if (size === last) return;
    last = size;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * tcpdump on the loopback for traffic to or from these TCP ports, whole packets, written as
 * they come. Resolves once tcpdump listens, so nothing sent after is missed.
 */
export async function captureLoopback(ports: number[]): Promise<Capture> {
  const dir = await mkdtemp(join(tmpdir(), 'dmq-capture-'));
  removeOnExit(dir);
  const file = join(dir, 'lo.pcap');
  const filter = ports.map((port) => `tcp port ${port}`).join(' or ');
  // --immediate-mode: without it libpcap hands packets over in blocks, and a short capture ends
  // before its block arrives. -Z root: tcpdump would otherwise drop to its own user, which cannot
  // write into this temp dir.
  const child = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-s', '0', '-n', '-Z', 'root', '-w', file, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`tcpdump exited with ${code} before capturing: ${stderr}`)));
  });
  return {
    async stop() {
      await settled(file);
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      await exited;
      return readFile(file);
    },
  };
}
