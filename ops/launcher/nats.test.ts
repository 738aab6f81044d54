import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './free-port.ts';
import { startNatsServer } from './nats.ts';

describe('nats-server launcher', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'harbour-nats-launcher-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts a server that answers under its own name', async () => {
    const nats = await startNatsServer({ dataDir: join(dir, 'ok') });
    try {
      const varz = (await (await fetch(`${nats.monitorUrl}/varz`)).json()) as {
        server_name: string;
        port: number;
      };
      expect(varz).toMatchObject({ server_name: `harbour-${nats.port}`, port: nats.port });
    } finally {
      await nats.stop();
    }
  });

  it('refuses a port another server answers on, instead of taking that server for its own', async () => {
    // Answers like a NATS server, under another name: nats-server cannot bind the port and exits.
    const port = await freePort();
    const other: Server = createServer((s) => s.end('INFO {"server_name":"someone-else"}\r\n'));
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.1', resolve));
    try {
      await expect(startNatsServer({ dataDir: join(dir, 'taken'), port })).rejects.toMatchObject({
        code: 'HARBOUR_ERR_START_TIMEOUT',
        message: expect.stringMatching(/address already in use/),
      });
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
