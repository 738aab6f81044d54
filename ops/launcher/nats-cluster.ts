/**
 * A local nats-server JetStream cluster (default three nodes) on 127.0.0.1: one process per node,
 * each with its own store, client port, monitor port and cluster port, routed to its peers. Used by
 * the cluster reliability test to run R3 streams and kill / restart nodes under load.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { freePort } from './free-port.ts';
import { type NatsServerHandle, startNatsServer } from './nats.ts';

export interface NatsClusterOptions {
  /** Each node's store and config live under `<dataDir>/<node name>/`. */
  dataDir: string;
  /** Nodes (default 3; JetStream needs a majority of them up to elect leaders). */
  size?: number;
  /** Cluster name, also the prefix of node names (`<name>-1`, `<name>-2`…). Default `harbour`. */
  name?: string;
  /** How long to wait for the JetStream meta leader after start (default 30 s). */
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
}

/** What `/jsz` says about the JetStream meta group, seen from one node. */
export interface MetaClusterView {
  name?: string;
  leader?: string;
  cluster_size?: number;
  replicas?: { name: string; current: boolean; offline?: boolean; active: number }[];
}

export interface NatsClusterNode {
  readonly name: string;
  /** `nats://127.0.0.1:<port>` of this node alone. */
  readonly url: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorUrl: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts the node again on the same ports and store (after `stop` or `kill`). */
  start(): Promise<void>;
  /** Graceful stop (SIGTERM), waits for exit. */
  stop(): Promise<void>;
  /** SIGKILL, waits for exit: a crash. */
  kill(): Promise<void>;
  /** This node's `/jsz` meta-group view, or null when it does not answer. */
  meta(): Promise<MetaClusterView | null>;
  /** This node's own copy of each stream (`/jsz?streams=true`), by name; null when it does not answer. */
  streams(): Promise<Record<string, NodeStreamState> | null>;
}

/** One node's replica of a stream. */
export interface NodeStreamState {
  messages: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
  /** The stream's leader as this node sees it. */
  leader?: string;
}

export interface NatsClusterHandle {
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's client URL: give them all to a client so it can fail over. */
  readonly urls: string[];
  /** `urls` comma-separated, the form `HARBOUR_NATS_URL` takes. */
  readonly url: string;
  node(name: string): NatsClusterNode;
  /**
   * Waits until every running node reports the same JetStream meta leader (and, by default, the
   * leader sees every other node as a current follower); returns the leader's name. Stream and
   * consumer replicas are not checked: use stream info (`cluster.replicas[].current`) for those.
   * (Not `/healthz`: on nats-server 2.9 a restarted node reports an idle consumer "not current"
   * until that consumer sees traffic.)
   */
  waitForMetaLeader(opts?: { timeoutMs?: number; allCurrent?: boolean }): Promise<string>;
  /** Stops every node (SIGTERM). */
  stop(): Promise<void>;
}

async function fetchJson<T>(url: string, timeoutMs = 1000): Promise<T | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    return (await res.json()) as T;
  } catch {
    return null;
  }
}

/** One node to start: its name, ports and store. */
interface NodeSpec {
  name: string;
  port: number;
  clusterPort: number;
  dataDir: string;
}

/** Starts `size` nats-server processes with JetStream, routed to each other, and waits for a meta leader. */
export async function startNatsCluster(opts: NatsClusterOptions): Promise<NatsClusterHandle> {
  const size = opts.size ?? 3;
  const clusterName = opts.name ?? 'harbour';
  if (size < 1) throw new HarbourError(ErrorCodes.Config, `cluster size must be at least 1, got ${size}`);
  const specs = await planNodes(opts.dataDir, clusterName, size);
  const handles = await startNodes(specs, clusterName, opts.log);
  const nodes = specs.map((s, i) => clusterNode(s, handles[i]!));
  const waitForMetaLeader = metaLeaderWaiter(nodes, clusterName, opts.readyTimeoutMs ?? 30_000);
  const cluster: NatsClusterHandle = {
    nodes,
    urls: nodes.map((n) => n.url),
    url: nodes.map((n) => n.url).join(','),
    node(name) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new HarbourError(ErrorCodes.Config, `no node ${name} in cluster ${clusterName}`);
      return n;
    },
    waitForMetaLeader,
    stop: async () => {
      await Promise.allSettled(nodes.map((n) => n.stop()));
    },
  };
  try {
    const leader = await waitForMetaLeader();
    opts.log?.(`JetStream cluster ${clusterName}: ${size} nodes, meta leader ${leader}`);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Names, stores (created) and distinct free ports (client and cluster) for `size` nodes. */
async function planNodes(dataDir: string, clusterName: string, size: number): Promise<NodeSpec[]> {
  const specs: NodeSpec[] = [];
  const taken = new Set<number>();
  const pick = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  for (let i = 1; i <= size; i++) {
    const name = `${clusterName}-${i}`;
    const nodeDir = join(dataDir, name);
    await mkdir(nodeDir, { recursive: true });
    specs.push({ name, port: await pick(), clusterPort: await pick(), dataDir: nodeDir });
  }
  return specs;
}

/** Starts every node, each routed to all the others; when one fails, stops the rest and throws its error. */
async function startNodes(
  specs: readonly NodeSpec[],
  clusterName: string,
  log: ((msg: string) => void) | undefined,
): Promise<NatsServerHandle[]> {
  const started = await Promise.allSettled(
    specs.map((s) =>
      startNatsServer({
        dataDir: s.dataDir,
        port: s.port,
        name: s.name,
        cluster: {
          name: clusterName,
          port: s.clusterPort,
          routes: specs.filter((o) => o !== s).map((o) => `nats-route://127.0.0.1:${o.clusterPort}`),
        },
        ...(log ? { log } : {}),
      }),
    ),
  );
  const handles = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(handles.map((h) => h.stop()));
    throw failed.reason;
  }
  return handles;
}

function clusterNode(s: NodeSpec, h: NatsServerHandle): NatsClusterNode {
  return {
    name: s.name,
    url: h.url,
    port: h.port,
    clusterPort: s.clusterPort,
    monitorUrl: h.monitorUrl,
    get pid() {
      return h.pid;
    },
    get running() {
      return h.pid !== undefined;
    },
    start: () => h.start(),
    stop: () => h.stop(),
    kill: () => h.kill(),
    meta: async () =>
      (await fetchJson<{ meta_cluster?: MetaClusterView }>(`${h.monitorUrl}/jsz`))?.meta_cluster ?? null,
    streams: () => nodeStreams(h.monitorUrl),
  };
}

/** A node's own replica of each stream, from its `/jsz`; null when it does not answer. */
async function nodeStreams(monitorUrl: string): Promise<Record<string, NodeStreamState> | null> {
  const jsz = await fetchJson<{
    account_details?: {
      stream_detail?: { name: string; cluster?: { leader?: string }; state: NodeStreamState }[];
    }[];
  }>(`${monitorUrl}/jsz?accounts=true&streams=true`);
  if (!jsz) return null;
  const out: Record<string, NodeStreamState> = {};
  for (const account of jsz.account_details ?? [])
    for (const st of account.stream_detail ?? []) {
      const { messages, bytes, first_seq, last_seq } = st.state;
      out[st.name] = {
        messages,
        bytes,
        first_seq,
        last_seq,
        ...(st.cluster?.leader ? { leader: st.cluster.leader } : {}),
      };
    }
  return out;
}

/** The cluster's `waitForMetaLeader` (see {@link NatsClusterHandle}); polls every running node's `/jsz`. */
function metaLeaderWaiter(
  nodes: readonly NatsClusterNode[],
  clusterName: string,
  defaultTimeoutMs: number,
): NatsClusterHandle['waitForMetaLeader'] {
  return async (w = {}) => {
    const timeoutMs = w.timeoutMs ?? defaultTimeoutMs;
    const allCurrent = w.allCurrent ?? true;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const up = nodes.filter((n) => n.running);
      const views = await Promise.all(up.map((n) => n.meta()));
      const leaders = new Set(views.map((v) => v?.leader ?? ''));
      const [leader] = [...leaders];
      // The leader's view lists its followers (`replicas`); each must be current and online.
      // A leader that is not running is a stale view of nodes that have not noticed yet.
      const leaderView = views[up.findIndex((n) => n.name === leader)];
      const followersOk =
        !allCurrent ||
        (leaderView?.replicas?.length === nodes.length - 1 &&
          leaderView.replicas.every((r) => r.current && !r.offline));
      if (leaders.size === 1 && leader && leaderView?.leader === leader && followersOk) return leader;
      if (Date.now() > deadline)
        throw new HarbourError(
          ErrorCodes.StartTimeout,
          `JetStream cluster ${clusterName} has no agreed meta leader after ${timeoutMs} ms (${describeViews(up, views)})`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  };
}

/** Each running node's idea of the meta leader and its followers, for the timeout's message. */
function describeViews(up: readonly NatsClusterNode[], views: readonly (MetaClusterView | null)[]): string {
  return up
    .map((n, i) => {
      const reps = views[i]?.replicas?.map((r) => `${r.name}${r.current ? '' : ' (not current)'}`);
      return `${n.name}: leader ${views[i]?.leader || '(none)'}${reps ? `, followers ${reps.join(' ')}` : ''}`;
    })
    .join('; ');
}
