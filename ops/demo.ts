import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Value } from '@sinclair/typebox/value';
import { ensureTopology, TopologyConfig } from '../streams/index.ts';
import { type Stack, startStack } from './launcher/stack.ts';

export interface DemoOptions {
  dataDir: string;
  externalPgUrl?: string;
  print: (line: string) => void;
}

export interface DemoResult {
  stack: Record<string, string>;
  topology: { created: string[]; unchanged: string[] };
}

/**
 * The main job on embedded defaults: start the local stack, prepare JetStream, run the pipeline
 * against the fixture HKEX site, stop cleanly. Each later stage adds its step here.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const t0 = Date.now();
  const step = (msg: string) => opts.print(`[demo +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
  step(`starting the stack in ${opts.dataDir}`);
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      dataDir: opts.dataDir,
      ...(opts.externalPgUrl ? { externalPgUrl: opts.externalPgUrl } : {}),
      log: (m) => step(m),
    });
    const described = stack.describe();
    for (const [what, where] of Object.entries(described)) step(`${what.padEnd(12)} ${where}`);
    const nc = await connect({ servers: stack.nats.url });
    try {
      const topology = await ensureTopology(nc, await jetstreamManager(nc), Value.Default(TopologyConfig, {}) as TopologyConfig);
      step(`JetStream topology: ${topology.created.length} created, ${topology.unchanged.length} already there`);
      for (const item of topology.created) step(`  created ${item}`);
      return { stack: described, topology };
    } finally {
      await nc.close();
    }
  } finally {
    if (stack) {
      await stack.stop();
      step('stack stopped');
    }
  }
}
