import { type ChildProcess, spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '..', '..');

/** A Harbour service in its own process (`services/main.ts --service <name>`), as it is deployed. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Sends `signal` and resolves once the process has exited. */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}

/**
 * Starts `service` with `env`; stdout and stderr go to `logPath` (appended, so restarts share it).
 * An exit that is neither a signal from `stop` nor code 0 is reported on stderr with the log's path.
 */
export async function startServiceProcess(
  service: string,
  env: NodeJS.ProcessEnv,
  logPath: string,
): Promise<ServiceProcess> {
  const log = await open(logPath, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/main.ts', '--service', service], {
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
