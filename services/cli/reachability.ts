import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import type { InfraConfig } from '../runtime/index.ts';

/**
 * Checks that Postgres and NATS answer before a one-shot command starts, so a missing server is
 * reported as what to fix — `cannot reach Postgres at 127.0.0.1:5432 (HARBOUR_POSTGRES_URL): …` —
 * rather than a bare "connection refused". Postgres first: every command needs it.
 */
export async function checkReachable(config: InfraConfig, timeoutMs = 5000): Promise<void> {
  const client = new pg.Client({ connectionString: config.postgres.url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (cause) {
    throw unreachable('Postgres', hostOf(config.postgres.url, 5432), 'HARBOUR_POSTGRES_URL', cause);
  } finally {
    await client.end().catch(() => {});
  }
  const servers = config.nats.url.split(',').map((s) => s.trim());
  try {
    const nc = await connect({ servers, timeout: timeoutMs, maxReconnectAttempts: 0, reconnect: false });
    await nc.close();
  } catch (cause) {
    throw unreachable('NATS', servers.map((s) => hostOf(s, 4222)).join(', '), 'HARBOUR_NATS_URL', cause);
  }
}

function unreachable(what: string, where: string, setting: string, cause: unknown): HarbourError {
  const reason = (cause as Error).message || String((cause as { code?: string }).code ?? cause);
  return new HarbourError(
    ErrorCodes.Unreachable,
    `cannot reach ${what} at ${where} (${setting}): ${reason}`,
    { cause, detail: { setting, where } },
  );
}

/** `host:port` of a URL, without credentials. */
function hostOf(url: string, defaultPort: number): string {
  try {
    const u = new URL(url.includes('://') ? url : `nats://${url}`);
    return `${u.hostname}:${u.port || defaultPort}`;
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}
