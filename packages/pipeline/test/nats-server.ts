/**
 * The real NATS server for the queue executor's tests: `nats-server -js` on a free 127.0.0.1 port
 * with its JetStream store in a temporary directory, as a child process that each test file
 * stops. .ci/run installs it from Debian; where the binary is absent the tests say so and skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The nats-server binary on PATH (Debian installs it in /usr/sbin, which a user's PATH may lack). */
export function natsServerBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((d) => join(d, 'nats-server')).find((p) => existsSync(p));
}

export const NATS_MISSING = 'nats-server is not installed (apt-get install nats-server; .ci/run installs it): the queue executor tests are skipped';

export interface NatsServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

export async function startNatsServer(options: { timeoutMs?: number } = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  if (binary === undefined) throw new Error(NATS_MISSING);
  const storeDir = await mkdtemp(join(tmpdir(), 'ct-nats-'));
  const port = await freePort();
  const child = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    log = (log + c).slice(-4000);
  });
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not start on 127.0.0.1:${port}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
