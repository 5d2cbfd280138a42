/**
 * Attributed autocommit writes: one-row INSERTs sent outside any transaction, one after another on
 * one connection, through node-postgres, knex and TypeORM, each three ways:
 *   none       - no Threadline: a table without triggers, no context, no adapter;
 *   capture    - the captured table, no context (capture only, unattributed);
 *   attributed - the captured table inside an audit context, through Threadline: tl.query for
 *                node-postgres (binding + INSERT as one implicit transaction, one round trip),
 *                an attached knex / DataSource for the ORMs (binding + INSERT pipelined, one round trip).
 * Every lane has its own connection. Each runs with synchronous_commit as the server is configured
 * and with it off (which leaves the client and round-trip cost without the WAL flush). Lanes
 * alternate in blocks in shuffled order.
 */
import { performance } from 'node:perf_hooks';
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '@threadline/core';
import { attachThreadline as attachKnex } from '@threadline/knex';
import { attachThreadline as attachTypeorm } from '@threadline/typeorm';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { DataSource, EntitySchema } from 'typeorm';
import { type BenchDb, log } from '../db.js';
import { prng, shuffle } from '../stats.js';
import type { AdapterBenchOptions } from './options.js';

export const LIBRARIES = ['node-postgres', 'knex', 'typeorm'] as const;
export type Library = (typeof LIBRARIES)[number];
const WRITE_VARIANTS = ['none', 'capture', 'attributed'] as const;
export type WriteVariant = (typeof WRITE_VARIANTS)[number];
/** `server`: synchronous_commit as configured; `off`: set off for the lane's connection. */
export const COMMIT_MODES = ['server', 'off'] as const;
export type CommitMode = (typeof COMMIT_MODES)[number];

export const WRITE_SCHEMA = { none: 'w_plain', audited: 'w_tl' } as const;
const BLOCK = 100;

export function writesSetupSql(): string {
  return Object.values(WRITE_SCHEMA)
    .map(
      (s) => `CREATE SCHEMA ${s};
        CREATE TABLE ${s}.items (id bigserial PRIMARY KEY, qty int NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now());`,
    )
    .join('\n');
}

export interface WriteRun {
  rep: number;
  library: Library;
  variant: WriteVariant;
  mode: CommitMode;
  writes: number;
  usPerWrite: number;
}

interface Lane {
  library: Library;
  variant: WriteVariant;
  mode: CommitMode;
  write: () => Promise<unknown>;
  done: number;
  timeMs: number;
}

const writerActor = (library: Library) => ActorRef.user(`writes-${library}`);

interface Item {
  id?: number;
  qty: number;
  note: string | null;
}
const itemEntity = (schema: string) =>
  new EntitySchema<Item>({
    name: `Item_${schema}`,
    tableName: 'items',
    schema,
    columns: {
      id: { type: 'bigint', primary: true, generated: 'increment' },
      qty: { type: Number },
      note: { type: String, nullable: true },
    },
  });

export interface WritesResult {
  runs: WriteRun[];
  verified: string;
}

export async function runWrites(db: BenchDb, o: AdapterBenchOptions): Promise<WritesResult> {
  const closers: (() => Promise<unknown>)[] = [];
  const lanes: Lane[] = [];
  const row = (n: number): Item => ({ qty: 1 + (n % 7), note: n % 3 === 0 ? 'autocommit write' : null });
  const table = (audited: boolean) => `${audited ? WRITE_SCHEMA.audited : WRITE_SCHEMA.none}.items`;
  const insertSql = (audited: boolean) => `INSERT INTO ${table(audited)} (qty, note) VALUES ($1, $2)`;
  try {
    for (const mode of COMMIT_MODES) {
      const options = mode === 'off' ? '-c synchronous_commit=off' : undefined;
      const connection = { connectionString: db.url, ...(options ? { options } : {}) };
      const newPool = () => {
        const pool = new pg.Pool({ ...connection, max: 1, idleTimeoutMillis: 0 });
        pool.on('error', () => undefined);
        closers.push(() => pool.end());
        return pool;
      };
      const add = (library: Library, variant: WriteVariant, write: (n: number) => Promise<unknown>) => {
        const lane: Lane = { library, variant, mode, write: () => write(lane.done++), done: 0, timeMs: 0 };
        lanes.push(lane);
      };
      // node-postgres
      const poolNone = newPool();
      const poolCapture = newPool();
      const tl: Threadline = createThreadline({ db: newPool() });
      add('node-postgres', 'none', (n) => poolNone.query(insertSql(false), [row(n).qty, row(n).note]));
      add('node-postgres', 'capture', (n) => poolCapture.query(insertSql(true), [row(n).qty, row(n).note]));
      // The attributed lanes' blocks run inside an audit context (see block below).
      add('node-postgres', 'attributed', (n) => tl.query(insertSql(true), [row(n).qty, row(n).note]));
      // knex
      const newKnex = (): Knex => {
        const k = knexFactory({ client: 'pg', connection, pool: { min: 1, max: 1 } });
        closers.push(() => k.destroy());
        return k;
      };
      const knexNone = newKnex();
      const knexCapture = newKnex();
      const knexAttached = attachKnex(newKnex(), { threadline: tl });
      add('knex', 'none', (n) => knexNone.withSchema(WRITE_SCHEMA.none).table('items').insert(row(n)));
      add('knex', 'capture', (n) =>
        knexCapture.withSchema(WRITE_SCHEMA.audited).table('items').insert(row(n)),
      );
      add('knex', 'attributed', (n) =>
        knexAttached.withSchema(WRITE_SCHEMA.audited).table('items').insert(row(n)),
      );
      // TypeORM
      const plainItem = itemEntity(WRITE_SCHEMA.none);
      const auditedItem = itemEntity(WRITE_SCHEMA.audited);
      const newDataSource = async (attach: boolean) => {
        const ds = new DataSource({
          type: 'postgres',
          url: db.url,
          poolSize: 1,
          entities: [plainItem, auditedItem],
          ...(options ? { extra: { options } } : {}),
        });
        if (attach) attachTypeorm(ds, { threadline: tl });
        await ds.initialize();
        closers.push(() => ds.destroy());
        return ds;
      };
      const dsNone = await newDataSource(false);
      const dsCapture = await newDataSource(false);
      const dsAttached = await newDataSource(true);
      add('typeorm', 'none', (n) => dsNone.getRepository(plainItem).insert(row(n)));
      add('typeorm', 'capture', (n) => dsCapture.getRepository(auditedItem).insert(row(n)));
      add('typeorm', 'attributed', (n) => dsAttached.getRepository(auditedItem).insert(row(n)));
    }

    /** A block of `count` writes, timed; attributed lanes run inside one audit context per block. */
    const block = async (lane: Lane, count: number): Promise<number> => {
      const body = async () => {
        const t0 = performance.now();
        for (let i = 0; i < count; i++) await lane.write();
        return performance.now() - t0;
      };
      if (lane.variant !== 'attributed') return body();
      return runWithAuditContext(
        { actor: writerActor(lane.library), correlationId: `writes-${lane.library}`, source: 'bench' },
        body,
      );
    };

    const random = prng(o.seed + 7);
    const warm = Math.min(200, o.writes);
    for (const lane of lanes) await block(lane, warm);
    const runs: WriteRun[] = [];
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const lane of lanes) lane.timeMs = 0;
      for (let done = 0; done < o.writes; done += BLOCK) {
        const count = Math.min(BLOCK, o.writes - done);
        for (const lane of shuffle(lanes, random)) lane.timeMs += await block(lane, count);
      }
      for (const lane of lanes) {
        runs.push({
          rep,
          library: lane.library,
          variant: lane.variant,
          mode: lane.mode,
          writes: o.writes,
          usPerWrite: (lane.timeMs * 1000) / o.writes,
        });
      }
      log(
        `writes rep ${rep}/${o.reps}: ${runs
          .filter((r) => r.rep === rep && r.mode === 'server')
          .map((r) => `${r.library}/${r.variant} ${r.usPerWrite.toFixed(0)} µs`)
          .join(', ')}`,
      );
    }
    return { runs, verified: await verifyWrites(db, lanes) };
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}

/** Every attributed write carries its library's actor; every capture-only write was captured without one. */
async function verifyWrites(db: BenchDb, lanes: Lane[]): Promise<string> {
  const problems: string[] = [];
  const written = (library: Library | undefined, variant: WriteVariant) =>
    lanes
      .filter((l) => (library === undefined || l.library === library) && l.variant === variant)
      .reduce((sum, l) => sum + l.done, 0);
  let attributed = 0;
  for (const library of LIBRARIES) {
    const { rows } = await db.sql.query(
      `SELECT count(DISTINCT t.id) AS tx, count(c.id) AS changes
         FROM threadline.audit_transactions t JOIN threadline.audit_changes c ON c.transaction_id = t.id
        WHERE t.actor_ref = $1::jsonb AND c.table_schema = $2 AND c.op = 'insert'`,
      [ActorRef.toJSON(writerActor(library)), WRITE_SCHEMA.audited],
    );
    const expected = written(library, 'attributed');
    attributed += expected;
    if (Number(rows[0].tx) !== expected || Number(rows[0].changes) !== expected)
      problems.push(
        `${library}: ${rows[0].tx} attributed transactions / ${rows[0].changes} changes, expected ${expected} each`,
      );
  }
  const { rows } = await db.sql.query(
    `SELECT count(*) FILTER (WHERE t.actor_ref IS NULL) AS unattributed, count(*) AS total,
            (SELECT count(*) FROM ${WRITE_SCHEMA.audited}.items) AS rows_audited
       FROM threadline.audit_changes c JOIN threadline.audit_transactions t ON t.id = c.transaction_id
      WHERE c.table_schema = $1`,
    [WRITE_SCHEMA.audited],
  );
  const capture = written(undefined, 'capture');
  const r = rows[0] as Record<string, string>;
  if (Number(r.unattributed) !== capture)
    problems.push(`capture-only: ${r.unattributed} unattributed changes, expected ${capture}`);
  if (Number(r.total) !== Number(r.rows_audited))
    problems.push(`${r.total} audit changes for ${r.rows_audited} rows in ${WRITE_SCHEMA.audited}.items`);
  if (problems.length > 0) throw new Error(`autocommit writes verification failed: ${problems.join('; ')}`);
  return (
    `autocommit writes: all ${attributed.toLocaleString('en-US')} attributed INSERTs (warm-up included) were captured ` +
    `with their library's actor, each in its own audit transaction; the ${capture.toLocaleString('en-US')} ` +
    'capture-only INSERTs were captured without an actor'
  );
}
