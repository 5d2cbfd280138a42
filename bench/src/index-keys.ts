/**
 * `npm run bench:index-keys`: what the change indexes of audit_changes cost per captured change,
 * the schema-version-6 keys (table_schema, table_name text and the table_pk jsonb) against the
 * compact keys of version 7 (table_id integer, key_hash bigint; docs/operations.md#index-keys).
 *
 * Three tables with audit_changes' columns receive the same audit rows, INSERT ... SELECT from a
 * prepared source (so generating rows costs nothing in the comparison), interleaved rep by rep:
 * - floor: no index at all;
 * - v4: the primary key, the transaction index and the v4 change indexes;
 * - v5: the primary key, the transaction index, the v5 change indexes (key hash computed on
 *   insert, as capture does) and the four partial legacy indexes (empty: only their predicate).
 * The tables are preloaded so the indexes have realistic depth; keys are random (updates of
 * existing rows), table names cycle over 8 realistic names. Prints µs per change above the
 * floor (medians) and the index sizes (pg_relation_size) after the run.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { median } from './stats.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    preload: { type: 'string', default: '500000' },
    batch: { type: 'string', default: '5000' },
    reps: { type: 'string', default: '15' },
  },
});
const url = values.url ?? process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const preload = Number(values.preload);
const batch = Number(values.batch);
const reps = Number(values.reps);

const COLUMNS = `id bigint GENERATED ALWAYS AS IDENTITY, transaction_id bigint NOT NULL,
  table_schema text COLLATE "C" NOT NULL, table_name text COLLATE "C" NOT NULL, table_pk jsonb NOT NULL,
  table_id integer, key_hash bigint, table_pk_before jsonb, op text NOT NULL, data_after jsonb, data_before jsonb,
  changed_fields text[], changed_from jsonb, captured_at timestamptz NOT NULL`;

const COMMON = (t: string) => [
  `ALTER TABLE ${t} ADD PRIMARY KEY (captured_at, id)`,
  `CREATE INDEX ${t}_tx ON ${t} (transaction_id, captured_at, id)`,
];
const V4 = (t: string) => [
  ...COMMON(t),
  `CREATE INDEX ${t}_row ON ${t} (table_schema, table_name, table_pk, captured_at, id)`,
  `CREATE INDEX ${t}_before ON ${t} (table_schema, table_name, table_pk_before) WHERE table_pk_before IS NOT NULL`,
  `CREATE INDEX ${t}_table ON ${t} (table_schema, table_name, captured_at, id)`,
  `CREATE INDEX ${t}_trunc ON ${t} (table_schema, table_name, captured_at, id) WHERE op = 'truncate'`,
];
const V5 = (t: string) => [
  ...COMMON(t),
  `CREATE INDEX ${t}_key ON ${t} (table_id, key_hash, captured_at, id)`,
  `CREATE INDEX ${t}_before ON ${t} (table_id, table_pk_before) WHERE table_pk_before IS NOT NULL`,
  `CREATE INDEX ${t}_table ON ${t} (table_id, captured_at, id)`,
  `CREATE INDEX ${t}_trunc ON ${t} (table_id, captured_at, id) WHERE op = 'truncate'`,
  `CREATE INDEX ${t}_l_row ON ${t} (table_schema, table_name, table_pk, captured_at, id) WHERE table_id IS NULL`,
  `CREATE INDEX ${t}_l_before ON ${t} (table_schema, table_name, table_pk_before) WHERE table_pk_before IS NOT NULL AND table_id IS NULL`,
  `CREATE INDEX ${t}_l_table ON ${t} (table_schema, table_name, captured_at, id) WHERE table_id IS NULL`,
  `CREATE INDEX ${t}_l_trunc ON ${t} (table_schema, table_name, captured_at, id) WHERE op = 'truncate' AND table_id IS NULL`,
];

const NAMES = [
  'order_line_items',
  'customer_accounts',
  'invoices',
  'shipment_events',
  'products',
  'users',
  'payments',
  'inventory_levels',
];

/** n audit rows as capture writes them for an UPDATE of a short row, starting at transaction `tx`. */
const sourceSql = (n: number, seed: number) => `
  SELECT ${seed} + g / 10 AS transaction_id, 'public' AS table_schema,
         (ARRAY[${NAMES.map((x) => `'${x}'`).join(',')}])[1 + (g * 7 + ${seed}) % ${NAMES.length}] AS table_name,
         jsonb_build_object('id', (hashint8(g + ${seed}::bigint) & 1048575) + 1) AS table_pk,
         1 + (g * 7 + ${seed}) % ${NAMES.length} AS table_id,
         'update' AS op,
         jsonb_build_object('id', g, 'account_id', g % 100, 'status', 'archived', 'note', repeat('n', 24)) AS data_after,
         '{status}'::text[] AS changed_fields, '{"status":"published"}'::jsonb AS changed_from,
         timestamptz '2026-01-01' + (${seed}::bigint * 1000000 + g) * interval '1 millisecond' AS captured_at
    FROM generate_series(1, ${n}) g`;

const insertSql = (
  t: string,
  hash: boolean,
) => `INSERT INTO ${t} (transaction_id, table_schema, table_name, table_pk,
    table_id, key_hash, op, data_after, changed_fields, changed_from, captured_at)
  SELECT transaction_id, table_schema, table_name, table_pk, ${hash ? 'table_id, jsonb_hash_extended(table_pk, 0)' : 'NULL, NULL'},
         op, data_after, changed_fields, changed_from, captured_at FROM src`;

async function main() {
  const name = `storage_keys_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  const c = new pg.Client({ connectionString: dbUrl.toString() });
  await c.connect();
  try {
    for (const t of ['floor', 'v4', 'v5']) {
      await c.query(`CREATE TABLE ${t} (${COLUMNS}) WITH (autovacuum_enabled = off)`);
    }
    for (const s of [...V4('v4'), ...V5('v5')]) await c.query(s);
    process.stderr.write(`[index-keys] preloading ${preload} rows into each table\n`);
    for (let done = 0, seed = 1; done < preload; done += 100_000, seed++) {
      const n = Math.min(100_000, preload - done);
      await c.query(`DROP TABLE IF EXISTS src; CREATE TEMP TABLE src AS ${sourceSql(n, seed)}`);
      await c.query(insertSql('floor', true));
      await c.query(insertSql('v4', false));
      await c.query(insertSql('v5', true));
    }
    await c.query('VACUUM ANALYZE floor, v4, v5');
    const times: Record<string, number[]> = { floor: [], v4: [], v5: [] };
    for (let r = 0; r < reps; r++) {
      await c.query(`DROP TABLE IF EXISTS src; CREATE TEMP TABLE src AS ${sourceSql(batch, 1000 + r)}`);
      await c.query('SELECT count(*) FROM src');
      // Rotate the order each rep so no variant always runs first.
      const order = [
        ['floor', true],
        ['v4', false],
        ['v5', true],
      ] as const;
      for (let i = 0; i < order.length; i++) {
        const [t, hash] = order[(i + r) % order.length]!;
        await c.query('BEGIN');
        const t0 = process.hrtime.bigint();
        await c.query(insertSql(t, hash));
        const t1 = process.hrtime.bigint();
        await c.query('COMMIT');
        times[t]!.push(Number(t1 - t0) / 1000 / batch);
      }
    }
    const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<
      string,
      number
    >;
    const out = (s: string) => process.stdout.write(`${s}\n`);
    out(
      `index-keys: ${preload.toLocaleString('en-US')} rows preloaded, ${reps} interleaved reps of ${batch} changes (INSERT ... SELECT, medians)`,
    );
    out(`  floor (no index)             ${m.floor!.toFixed(2)} µs/change`);
    out(
      `  v4 keys (text + jsonb)       ${m.v4!.toFixed(2)} µs/change   ÷ floor ${(m.v4! / m.floor!).toFixed(2)}   index cost ${(m.v4! - m.floor!).toFixed(2)} µs`,
    );
    out(
      `  v5 keys (table id + hash)    ${m.v5!.toFixed(2)} µs/change   ÷ floor ${(m.v5! / m.floor!).toFixed(2)}   index cost ${(m.v5! - m.floor!).toFixed(2)} µs`,
    );
    out(
      `  v5 ÷ v4                      ${(m.v5! / m.v4!).toFixed(2)}   index cost compact ÷ text ${((m.v5! - m.floor!) / (m.v4! - m.floor!)).toFixed(2)}`,
    );
    const { rows } = await c.query<{ t: string; idx: string; bytes: string; n: string }>(
      `SELECT i.indrelid::regclass::text AS t, i.indexrelid::regclass::text AS idx, pg_relation_size(i.indexrelid)::text AS bytes,
              (SELECT reltuples FROM pg_class WHERE oid = i.indexrelid)::bigint::text AS n
         FROM pg_index i WHERE i.indrelid IN ('v4'::regclass, 'v5'::regclass) ORDER BY 1, 2`,
    );
    out('  index sizes (pg_relation_size):');
    const total: Record<string, number> = {};
    for (const r of rows) {
      total[r.t] = (total[r.t] ?? 0) + Number(r.bytes);
      out(
        `    ${r.idx.padEnd(14)} ${(Number(r.bytes) / 1048576).toFixed(1).padStart(7)} MB  (${r.n} entries)`,
      );
    }
    out(
      `  all indexes: v4 ${(total.v4! / 1048576).toFixed(1)} MB, v5 ${(total.v5! / 1048576).toFixed(1)} MB (v5 ÷ v4 ${(total.v5! / total.v4!).toFixed(2)})`,
    );
  } finally {
    await c.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end();
  }
}

await main();
