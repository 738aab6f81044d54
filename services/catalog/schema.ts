import type pg from 'pg';
import { type Migration, migrate } from '../runtime/index.ts';

/**
 * DDL of the lake catalog described in contracts/catalog.ts, plus the committers' watermarks, the
 * commit-event outbox and the runs confirmed in the lake. The migrations keep the owner name
 * `compactor` they were first applied under, so existing databases are not migrated twice.
 */
export const catalogMigrations: Migration[] = [
  {
    id: '001-lake-catalog',
    sql: `
      create table lake_files (
        file_key text primary key,
        dataset text not null,
        partition_date date not null,
        first_seq bigint not null,
        last_seq bigint not null,
        rows bigint not null,
        bytes bigint not null,
        checksum text not null,
        schema_version integer not null,
        writer text not null,
        committed_at timestamptz not null default now(),
        status text not null default 'active' check (status in ('active', 'replaced')),
        replaced_by text,
        replaced_at timestamptz
      );
      create index lake_files_partition on lake_files (dataset, partition_date) where status = 'active';
      create table lake_watermarks (
        consumer text primary key,
        dataset text not null,
        last_seq bigint not null,
        updated_at timestamptz not null default now()
      );
      create table lake_committed_seqs (
        consumer text not null,
        seq bigint not null,
        file_key text not null,
        primary key (consumer, seq)
      );
      create table lake_outbox (
        id bigserial primary key,
        subject text not null,
        msg_id text not null unique,
        payload jsonb not null,
        created_at timestamptz not null default now(),
        sent_at timestamptz
      );
      create index lake_outbox_unsent on lake_outbox (id) where sent_at is null;`,
  },
  {
    // Sequences at or below pruned_through were forgotten from lake_committed_seqs; they still count as committed.
    id: '002-pruned-through',
    sql: 'alter table lake_watermarks add column pruned_through bigint not null default 0;',
  },
  {
    // Scrape runs whose data the compactor confirmed in the lake (issue #20), and when it reached gold.
    id: '003-lake-runs',
    sql: `
      create table lake_runs (
        run_id text primary key,
        dataset text not null,
        partitions date[] not null,
        last_raw_seq bigint not null,
        completed_at timestamptz not null,
        in_lake_at timestamptz not null default now(),
        in_gold_at timestamptz
      );
      create index lake_runs_gold_pending on lake_runs (dataset) where in_gold_at is null;`,
  },
];

export const migrateCatalog = (pool: pg.Pool) => migrate(pool, 'compactor', catalogMigrations);
