import { type Static, Type } from '@sinclair/typebox';
import { streamNames } from '../../streams/index.ts';

export const MonitorConfig = Type.Object(
  {
    refreshEveryMs: Type.Integer({
      minimum: 100,
      default: 15_000,
      description:
        'how often JetStream, the gold data-quality tables and the lake catalog are read (keep ≤ the Prometheus scrape interval)',
    }),
    streams: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'streams whose state and consumers are exported; empty = every stream on the server (KV buckets included)',
    }),
    subjectStreams: Type.Array(Type.String({ minLength: 1 }), {
      default: Object.values(streamNames),
      description:
        'streams whose per-subject message counts are exported (only streams with a small, fixed set of subjects)',
    }),
    freshnessGraceMs: Type.Integer({
      minimum: 0,
      default: 2 * 3600_000,
      description:
        'a scheduled run (scheduler.jobs) is expected in the gold tables this long after its tick (scrape + compaction + transform)',
    }),
    runInGoldWithinMs: Type.Integer({
      minimum: 1000,
      default: 30 * 60_000,
      description:
        'freshness service level: a scrape run is expected in gold this long after its last job ended (exported as harbour_run_gold_slo_seconds; alert HarbourRunNotInGold)',
    }),
  },
  { default: {} },
);
export type MonitorConfig = Static<typeof MonitorConfig>;
