import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { testDir } from '../../test/support/infra.ts';
import { which } from '../launcher/programs.ts';
import { DEFAULT_RULES_DIR, prometheusConfig } from '../launcher/prometheus.ts';

const exec = promisify(execFile);
const DIR = resolve(import.meta.dirname);
const promtool = await which('promtool');
if (!promtool) {
  console.warn(
    '[promtool.test] SKIPPED: promtool is not installed (Debian package "prometheus": apt-get install -y prometheus)',
  );
}

async function run(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await exec(promtool!, args, { cwd: DIR });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

const files = async (dir: string, ext: string) =>
  (await readdir(join(DIR, dir))).filter((f) => f.endsWith(ext)).map((f) => join(dir, f));

describe.skipIf(!promtool)('Prometheus configuration and rules (promtool)', () => {
  let ruleFiles: string[];
  let testFiles: string[];
  beforeAll(async () => {
    ruleFiles = await files('rules', '.yml');
    testFiles = await files('tests', '.yml');
    expect(ruleFiles.length).toBeGreaterThan(0);
    expect(testFiles.length).toBeGreaterThan(0);
  });

  it('promtool check config: prometheus.yml (and the rule files it loads)', async () => {
    const out = await run('check', 'config', 'prometheus.yml');
    expect(out).toContain('SUCCESS');
  });

  it('promtool check config: the configuration the local launcher generates', async () => {
    const dir = await testDir('promcfg');
    const targetsPath = join(dir, 'targets.json');
    await writeFile(targetsPath, JSON.stringify([{ targets: ['127.0.0.1:9464'], labels: {} }]));
    const configPath = join(dir, 'prometheus.yml');
    await writeFile(
      configPath,
      JSON.stringify(
        prometheusConfig({ targetsPath, rulesDir: DEFAULT_RULES_DIR, port: 9090, intervalSeconds: 5 }),
      ),
    );
    const out = await run('check', 'config', configPath);
    expect(out).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
  });

  it('promtool check rules', async () => {
    const out = await run('check', 'rules', ...ruleFiles);
    expect(out).not.toContain('FAILED');
  });

  it('promtool test rules', async () => {
    const out = await run('test', 'rules', ...testFiles);
    expect(out).toContain('SUCCESS');
    expect(out).not.toContain('FAILED');
  });

  it('every alert has a test case where it fires', async () => {
    const rules = (await Promise.all(ruleFiles.map((f) => readFile(join(DIR, f), 'utf8')))).join('\n');
    const tests = (await Promise.all(testFiles.map((f) => readFile(join(DIR, f), 'utf8')))).join('\n');
    const alerts = [...rules.matchAll(/^\s*-\s*alert:\s*(\S+)/gm)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    // `alertname: X` followed by a non-empty `exp_alerts:` list.
    const firing = new Set(
      [...tests.matchAll(/alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*\n\s*-/g)].map((m) => m[1]!),
    );
    const silent = new Set(
      [...tests.matchAll(/alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*\[\]/g)].map((m) => m[1]!),
    );
    for (const alert of alerts) {
      expect(firing.has(alert), `${alert} has a firing case`).toBe(true);
      expect(silent.has(alert), `${alert} has a not-firing case`).toBe(true);
    }
  });
});
