import { nanos } from '@nats-io/transport-node';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, HarbourError } from '../contracts/index.ts';
import { startTestNats } from '../test/support/infra.ts';
import { declareTopology, ensureTopology, streamNames, TopologyConfig } from './index.ts';

const cfg = Value.Default(TopologyConfig, {}) as TopologyConfig;
let nats: Awaited<ReturnType<typeof startTestNats>>;

beforeAll(async () => {
  nats = await startTestNats();
});
afterAll(async () => nats?.stop());

async function snapshot() {
  const streams = [];
  for await (const s of nats.jsm.streams.list()) streams.push(s.config);
  const consumers = [];
  for (const s of streams) for await (const c of nats.jsm.consumers.list(s.name)) consumers.push(c.config);
  return { streams: streams.sort((a, b) => a.name.localeCompare(b.name)), consumers };
}

describe('ensureTopology on a real nats-server', () => {
  it('creates every declared stream, consumer and bucket, then changes nothing on a second call', async () => {
    const first = await ensureTopology(nats.nc, nats.jsm, cfg);
    const topo = declareTopology(cfg);
    expect(first.created).toHaveLength(topo.streams.length + topo.consumers.length + topo.kv.length);
    const before = await snapshot();
    const second = await ensureTopology(nats.nc, nats.jsm, cfg);
    expect(second.created).toEqual([]);
    expect(second.unchanged).toHaveLength(first.created.length);
    expect(await snapshot()).toEqual(before);
    const jobs = before.streams.find((s) => s.name === streamNames.jobs);
    expect(jobs?.retention).toBe('workqueue');
  });

  it('reports a conflicting stream instead of replacing it', async () => {
    const raw = await nats.jsm.streams.info(streamNames.raw);
    await nats.jsm.streams.update(streamNames.raw, { ...raw.config, max_age: nanos(2 * 24 * 3600_000) });
    const err = await ensureTopology(nats.nc, nats.jsm, cfg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HarbourError);
    expect((err as HarbourError).code).toBe(ErrorCodes.TopologyConflict);
    expect((err as HarbourError).message).toMatch(/stream RAW: max_age/);
    expect((await nats.jsm.streams.info(streamNames.raw)).config.max_age).toBe(nanos(2 * 24 * 3600_000));
  });
});
