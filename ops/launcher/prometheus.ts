import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { freePort } from './free-port.ts';
import { ensureProgram } from './programs.ts';

/** The repository's alert and recording rules. */
export const DEFAULT_RULES_DIR = resolve(import.meta.dirname, '..', 'prometheus', 'rules');

export interface PrometheusOptions {
  /** Config, targets file and TSDB live under this directory. */
  dataDir: string;
  /** `host:port` of every Harbour process's ops server (/metrics); scraped as job `harbour`. */
  targets: string[];
  /** Directory of `*.yml` rule files; default the repository's `ops/prometheus/rules`. `null` = no rules. */
  rulesDir?: string | null;
  /** Listen port on 127.0.0.1; 0 or absent picks a free one. */
  port?: number;
  /** Scrape and rule evaluation interval in seconds (default 5: quick feedback on a laptop). */
  intervalSeconds?: number;
  /** TSDB retention (default 2d). */
  retention?: string;
  log?: (msg: string) => void;
  startTimeoutMs?: number;
}

export interface PrometheusHandle {
  /** e.g. `http://127.0.0.1:9090` */
  readonly url: string;
  readonly port: number;
  readonly configPath: string;
  /** The file_sd file listing the Harbour targets; `setTargets` rewrites it (Prometheus re-reads it within seconds). */
  readonly targetsPath: string;
  setTargets(targets: string[]): Promise<void>;
  stop(): Promise<void>;
}

/** The generated configuration (JSON is YAML): the same jobs as ops/prometheus/prometheus.yml, local paths. */
export function prometheusConfig(opts: {
  targetsPath: string;
  rulesDir: string | null;
  port: number;
  intervalSeconds: number;
}) {
  const interval = `${opts.intervalSeconds}s`;
  return {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: opts.rulesDir ? [join(resolve(opts.rulesDir), '*.yml')] : [],
    scrape_configs: [
      {
        job_name: 'harbour',
        metrics_path: '/metrics',
        file_sd_configs: [{ files: [opts.targetsPath], refresh_interval: interval }],
      },
      { job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${opts.port}`] }] },
    ],
  };
}

async function writeAtomically(path: string, body: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, body);
  await rename(tmp, path);
}

/**
 * Starts Prometheus (the Debian package, installed when missing and root) on 127.0.0.1 with a
 * generated config scraping `targets` and evaluating the repository's rules; data under `dataDir`.
 */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusHandle> {
  const bin = await ensureProgram('prometheus', 'prometheus', opts.log);
  const dataDir = resolve(opts.dataDir);
  await mkdir(join(dataDir, 'tsdb'), { recursive: true });
  const port = opts.port || (await freePort());
  const targetsPath = join(dataDir, 'targets.json');
  const configPath = join(dataDir, 'prometheus.yml');
  const rulesDir = opts.rulesDir === undefined ? DEFAULT_RULES_DIR : opts.rulesDir;
  const setTargets = (targets: string[]) =>
    writeAtomically(targetsPath, `${JSON.stringify([{ targets, labels: {} }], null, 2)}\n`);
  await setTargets(opts.targets);
  const config = prometheusConfig({
    targetsPath,
    rulesDir,
    port,
    intervalSeconds: opts.intervalSeconds ?? 5,
  });
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);

  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    bin,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dataDir, 'tsdb')}`,
      `--storage.tsdb.retention.time=${opts.retention ?? '2d'}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-8000);
  });
  let exited = false;
  const exit = new Promise<void>((done) =>
    child.once('exit', () => {
      exited = true;
      done();
    }),
  );

  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited)
      throw new HarbourError(
        ErrorCodes.StartTimeout,
        `prometheus exited while starting: ${stderr.slice(-2000)}`,
      );
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      throw new HarbourError(
        ErrorCodes.StartTimeout,
        `prometheus not ready on ${url}: ${stderr.slice(-2000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  opts.log?.(`prometheus listening on ${url} (config ${configPath})`);

  return {
    url,
    port,
    configPath,
    targetsPath,
    setTargets,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(killer);
    },
  };
}
