import { type ChildProcess, spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '..', '..');

/** A Harbour service in its own process (`services/main.ts --service <name>`), as it is deployed. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Sends `signal` and resolves once the process has exited. */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}

/**
 * Starts `service` (or several services in one process) with `env`; stdout and stderr go to `logPath` (appended, so restarts share it).
 * An exit that is neither a signal from `stop` nor code 0 is reported on stderr with the log's path.
 */
export async function startServiceProcess(
  service: string | readonly string[],
  env: NodeJS.ProcessEnv,
  logPath: string,
): Promise<ServiceProcess> {
  const log = await open(logPath, 'a');
  const services = typeof service === 'string' ? [service] : service;
  const args = services.flatMap((s) => ['--service', s]);
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/main.ts', ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', log.fd, log.fd],
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, sig) => {
      if (sig !== 'SIGKILL' && sig !== 'SIGTERM' && code !== 0)
        console.error(`${service} exited with ${code}; log: ${logPath}`);
      void log.close();
      resolve();
    }),
  );
  return {
    child,
    async stop(signal) {
      child.kill(signal);
      await exited;
    },
  };
}

/** The last `lines` lines of a service log, for a failing test's message. */
export async function logTail(logPath: string, lines = 20): Promise<string> {
  return (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n');
}

/** Polls `cond` every `everyMs` until it holds; throws naming `what` after `ms`. */
export async function until(
  cond: () => Promise<boolean>,
  ms: number,
  what: string,
  everyMs = 100,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A TCP port free on 127.0.0.1 right now, for a service process's HTTP listener. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
