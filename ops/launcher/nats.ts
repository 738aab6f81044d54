import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { freePort } from './free-port.ts';
import { ensureProgram } from './programs.ts';

export interface NatsServerOptions {
  /** JetStream store and config live under this directory. */
  dataDir: string;
  /** Client port; 0 or absent picks a free one (kept across restarts). */
  port?: number;
  /** Server name; also the cluster member name. */
  name?: string;
  /** Cluster routes: this node's cluster port and its peers' `nats-route://host:port` URLs. */
  cluster?: { name: string; port: number; routes: string[] };
  log?: (msg: string) => void;
  startTimeoutMs?: number;
}

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  /** HTTP monitoring endpoint (`/varz`, `/jsz`). */
  readonly monitorUrl: string;
  readonly pid: number | undefined;
  /** Starts the server again on the same ports and store (after `stop` or `kill`). */
  start(): Promise<void>;
  /** Graceful stop (SIGTERM), waits for exit. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL), waits for exit: simulates a crash. */
  kill(): Promise<void>;
}

/** Starts nats-server with JetStream, installing the Debian package when missing and root. */
export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServerHandle> {
  const bin = await ensureProgram('nats-server', 'nats-server', opts.log);
  let port = opts.port || (await freePort());
  let monitorPort = await freePort();
  let name = '';
  const storeDir = join(opts.dataDir, 'jetstream');
  await mkdir(storeDir, { recursive: true });
  const confPath = join(opts.dataDir, 'nats-server.conf');
  const cluster = opts.cluster
    ? `cluster {\n  name: ${opts.cluster.name}\n  listen: 127.0.0.1:${opts.cluster.port}\n  routes: [${opts.cluster.routes.map((r) => JSON.stringify(r)).join(', ')}]\n}\n`
    : '';
  const writeConf = async () => {
    name = opts.name ?? `harbour-${port}`;
    await writeFile(
      confPath,
      `server_name: ${JSON.stringify(name)}\nlisten: 127.0.0.1:${port}\nhttp: 127.0.0.1:${monitorPort}\n` +
        `max_payload: 8MB\njetstream {\n  store_dir: ${JSON.stringify(storeDir)}\n}\n${cluster}`,
    );
  };
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    if (child) return;
    const proc = spawn(bin, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    child = proc;
    void exited.then(() => {
      if (child === proc) child = undefined;
    });
    try {
      await Promise.race([
        waitForNats(port, name, opts.startTimeoutMs ?? 15_000),
        exited.then(() => {
          throw new HarbourError(ErrorCodes.StartTimeout, `nats-server exited: ${stderr}`);
        }),
      ]);
    } catch (cause) {
      proc.kill('SIGKILL');
      throw new HarbourError(
        ErrorCodes.StartTimeout,
        `nats-server did not start on port ${port}: ${stderr}`,
        { cause },
      );
    }
    opts.log?.(`nats-server ${name} listening on nats://127.0.0.1:${port}`);
  };
  const signalAndWait = async (signal: NodeJS.Signals) => {
    if (!child) return;
    child.kill(signal);
    await exited;
  };

  // A port picked here is free only until released: another process may bind it before
  // nats-server does (tests start servers in parallel). Then pick again; restarts keep the ports.
  for (let attempt = 1; ; attempt++) {
    await writeConf();
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 5 || !/address already in use/.test((err as Error).message)) throw err;
      await exited;
      if (!opts.port) port = await freePort();
      monitorPort = await freePort();
    }
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    get pid() {
      return child?.pid;
    },
    start,
    stop: () => signalAndWait('SIGTERM'),
    kill: () => signalAndWait('SIGKILL'),
  };
}

/** The `server_name` of the NATS server answering on `port` (its INFO line), or null when none answers. */
function natsServerName(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let got = '';
    const done = (name: string | null) => {
      s.destroy();
      resolve(name);
    };
    s.setTimeout(1_000, () => done(null));
    s.on('data', (b: Buffer) => {
      got += b.toString();
      const end = got.indexOf('\r\n');
      if (end < 0) return;
      try {
        const info = JSON.parse(got.slice(0, end).replace(/^INFO\s+/, '')) as { server_name?: string };
        done(info.server_name ?? '');
      } catch {
        done('');
      }
    });
    s.once('error', () => done(null));
  });
}

/**
 * Resolves once the server answering on `port` is the one named `name`: another process may hold
 * the port (then ours fails to bind and exits, and its caller picks new ports).
 */
async function waitForNats(port: number, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await natsServerName(port)) !== name) {
    if (Date.now() > deadline)
      throw new HarbourError(
        ErrorCodes.StartTimeout,
        `nats-server ${name} not answering on port ${port} after ${timeoutMs} ms`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
