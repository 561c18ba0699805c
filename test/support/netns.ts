import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { findBinary } from '../harness/proc.js';

let made = 0;
const namespaces = new Set<string>();
/** A relay left running would keep its namespace alive after `ip netns del`. */
const relays = new Set<ChildProcess>();

/** The relay and the processes it forked for each connection: its own process group. */
function killRelay(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

process.once('exit', () => {
  for (const child of relays) killRelay(child);
  for (const ns of namespaces) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // already gone
    }
  }
});

function relay(args: string[]): ChildProcess {
  const child = spawn(args[0]!, args.slice(1), { stdio: 'ignore', detached: true });
  child.unref();
  relays.add(child);
  child.once('exit', () => relays.delete(child));
  return child;
}

async function listening(host: string, port: number): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.destroy();
        done(true);
      });
      s.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`relay on ${host}:${port} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A real network link between dmq and a server on this machine: dmq connects to an address
 * inside a network namespace, reached over a veth pair; a relay there forwards to the server.
 * `down()` takes the namespace's end of the link down: packets vanish, nothing is refused or
 * reset (a partition, not a crash); `up()` brings it back and open connections go on.
 * Needs root (ip netns).
 */
export async function startNetnsLink(target: { port: number }): Promise<{
  host: string;
  port: number;
  down(): void;
  up(): void;
  close(): Promise<void>;
}> {
  made += 1;
  const tag = `${process.pid % 100_000}x${made}`;
  const ns = `dmq-${tag}`;
  const [hostIf, nsIf] = [`dq${tag}h`, `dq${tag}n`];
  const net = `10.${100 + (process.pid % 100)}.${made % 250}`;
  const [hostAddr, nsAddr] = [`${net}.1`, `${net}.2`];
  ip('netns', 'add', ns);
  namespaces.add(ns);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
  ip('link', 'set', nsIf, 'netns', ns);
  ip('addr', 'add', `${hostAddr}/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
  // The servers listen on 127.0.0.1 only, which the namespace cannot reach: a relay on this
  // side of the link, on its address, leads there.
  const socat = findBinary('socat');
  const port = target.port;
  const hostRelay = relay([socat, `TCP-LISTEN:${port},bind=${hostAddr},fork,reuseaddr`, `TCP:127.0.0.1:${target.port}`]);
  const nsRelay = relay(['ip', 'netns', 'exec', ns, socat, `TCP-LISTEN:${port},bind=${nsAddr},fork,reuseaddr`, `TCP:${hostAddr}:${port}`]);
  await listening(nsAddr, port);
  return {
    host: nsAddr,
    port,
    down: () => ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'down'),
    up: () => ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up'),
    async close(): Promise<void> {
      killRelay(hostRelay);
      killRelay(nsRelay);
      ip('netns', 'del', ns);
      namespaces.delete(ns);
    },
  };
}
