/**
 * One audit dataset for the query benchmark: three application tables in their own schema,
 * captured by Threadline into their own storage schema, filled through real capture by bound
 * transactions (tl.transaction inside runWithAuditContext) until the audit tables hold `target`
 * changes. See bench/README.md, "Query benchmark", for the data shape.
 */
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '@threadline/core';
import type pg from 'pg';
import { prng } from '../stats.js';

/** The actor whose first timeline page is measured: a busy one (about 5 % of transactions). */
export const BENCH_ACTOR = ActorRef.user('42');
/** A rarely active actor: three small transactions at the very start of the load, none after. */
export const RARE_ACTOR = ActorRef.of('admin', 'auditor');
/** The correlation id of one request in the middle of the load: 2 statements and an action. */
export const BENCH_CORRELATION = 'req-bench-target';
/** The row whose history and as-of are measured: updated 20 times, evenly spread over the load. */
export const HOT_ORDER_ID = 1;
const HOT_UPDATES = 20;
const ACTORS = 200;

export interface Dataset {
  label: string;
  /** Storage schema (audit tables) and application schema. */
  storage: string;
  app: string;
  tl: Threadline;
  changes: number;
  transactions: number;
  actions: number;
  /** as-of instant: halfway between two updates of the hot row, in the middle of the load. */
  asOfAt: string;
  loadSeconds: number;
  auditBytes: number;
}

function actorFor(random: () => number): ActorRef {
  if (random() < 0.05) return BENCH_ACTOR;
  const n = 1 + Math.floor(random() * ACTORS);
  if (n <= 170) return ActorRef.user(String(n === 42 ? 201 : n));
  if (n <= 190) return ActorRef.serviceAccount(`svc-${n}`);
  return ActorRef.job(`queue-${n}`);
}

/** Random distinct integers in [1, max]. */
function pick(random: () => number, count: number, max: number): number[] {
  const out = new Set<number>();
  const want = Math.min(count, max);
  while (out.size < want) out.add(1 + Math.floor(random() * max));
  return [...out];
}

export async function loadDataset(
  client: pg.Client,
  label: string,
  target: number,
  seed: number,
  log: (message: string) => void,
): Promise<Dataset> {
  const storage = `tl_${label}`;
  const app = `app_${label}`;
  const started = Date.now();
  await client.query(`
    CREATE SCHEMA ${app};
    CREATE TABLE ${app}.orders (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
      total numeric(12,2) NOT NULL, note text, updated_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE ${app}.memberships (org_id int, user_id int, role text NOT NULL, since date NOT NULL,
      PRIMARY KEY (org_id, user_id));
    CREATE TABLE ${app}.documents (id uuid PRIMARY KEY, title text NOT NULL, body text NOT NULL,
      version int NOT NULL DEFAULT 1);`);
  const tl = createThreadline({ db: client, schema: storage });
  await tl.install();
  await tl.installTriggers({ tables: [`${app}.orders`, `${app}.memberships`, `${app}.documents`] });

  const random = prng(seed);
  // Next key of each table (keys are 1..next-1; deleted orders leave holes).
  const next = { orders: 1, memberships: 1, documents: 1 };
  let changes = 0;
  let transactions = 0;
  let actions = 0;
  let request = 0;
  let hotDone = 0;
  let asOfAt = '';
  const bound = async (actor: ActorRef, fn: () => Promise<number>) => {
    request++;
    const { result } = await runWithAuditContext({ actor, correlationId: `req-${request}` }, () =>
      tl.transaction(fn),
    );
    // A statement that changed no row (every picked row already deleted) writes no audit row.
    if (result > 0) transactions++;
    changes += result;
    return result;
  };
  const now = () => new Date().toISOString();
  const q = async (sql: string, params: unknown[]) => (await tl.query(sql, params)).rowCount ?? 0;

  // Row 1 of orders exists from the start: the hot row.
  await bound(ActorRef.user('1'), async () => {
    next.orders = 2;
    return q(
      `INSERT INTO ${app}.orders (id, customer_id, status, total, note) VALUES ($1, 1, 'new', 10, 'hot row')`,
      [HOT_ORDER_ID],
    );
  });

  // The rare actor's only transactions, before everything else.
  for (let i = 0; i < 3; i++) {
    await bound(RARE_ACTOR, async () => {
      const from = next.memberships;
      next.memberships += 3;
      return q(
        `INSERT INTO ${app}.memberships (org_id, user_id, role, since)
         SELECT 1 + g % 500, g, 'auditor', date '2026-01-01' FROM generate_series($1::int, $2::int) g`,
        [from, next.memberships - 1],
      );
    });
  }

  let lastProgress = Date.now();
  while (changes < target) {
    // The hot row: one single-row update every target/HOT_UPDATES changes.
    if (hotDone < HOT_UPDATES && changes >= (hotDone * target) / HOT_UPDATES) {
      hotDone++;
      await bound(actorFor(random), () =>
        q(`UPDATE ${app}.orders SET status = $2, total = total + 1, updated_at = now() WHERE id = $1`, [
          HOT_ORDER_ID,
          `state-${hotDone}`,
        ]),
      );
      continue;
    }
    // The as-of instant: halfway between updates 10 and 11 of the hot row.
    if (asOfAt === '' && hotDone === HOT_UPDATES / 2 && changes >= ((hotDone - 0.5) * target) / HOT_UPDATES)
      asOfAt = now();
    if (request > 0 && changes >= target / 2 && !actions) {
      // One request in the middle: two statements on two tables and an action, one correlation id.
      await runWithAuditContext(
        { actor: BENCH_ACTOR, correlationId: BENCH_CORRELATION, requestId: 'bench-request' },
        () =>
          tl.transaction(async () => {
            changes += await q(
              `UPDATE ${app}.orders SET status = 'refunded', updated_at = now() WHERE id = ANY($1::bigint[])`,
              [pick(random, 3, next.orders - 1)],
            );
            changes += await q(
              `UPDATE ${app}.documents SET version = version + 1 WHERE id = md5('1')::uuid`,
              [],
            );
            await tl.recordAction('order.refunded', { reason: 'benchmark target' });
          }),
      );
      transactions++;
      actions++;
      continue;
    }
    const rows = random() < 0.5 ? 1 + Math.floor(random() * 20) : 100 + Math.floor(random() * 901);
    const actor = actorFor(random);
    const table = random();
    const op = random();
    if (table < 0.5) {
      // orders: 45 % inserts, 45 % updates, 10 % deletes (never the hot row)
      if (op < 0.45 || next.orders < 2000) {
        const from = next.orders;
        next.orders += rows;
        await bound(actor, () =>
          q(
            `INSERT INTO ${app}.orders (id, customer_id, status, total, note)
             SELECT g, 1 + (g * 7919) % 5000, 'new', (g % 997) + 0.5, repeat('n', (40 + g % 80)::int) FROM generate_series($1::bigint, $2::bigint) g`,
            [from, next.orders - 1],
          ),
        );
      } else if (op < 0.9) {
        await bound(actor, () =>
          q(
            `UPDATE ${app}.orders SET status = (ARRAY['paid','shipped','cancelled','disputed'])[1 + (id % 4)],
               total = total + 1, updated_at = now() WHERE id = ANY($1::bigint[]) AND id <> ${HOT_ORDER_ID}`,
            [pick(random, rows, next.orders - 1)],
          ),
        );
      } else {
        await bound(actor, () =>
          q(`DELETE FROM ${app}.orders WHERE id = ANY($1::bigint[]) AND id <> ${HOT_ORDER_ID}`, [
            pick(random, Math.ceil(rows / 4), next.orders - 1),
          ]),
        );
      }
    } else if (table < 0.75) {
      // memberships: composite key (org_id, user_id)
      if (op < 0.6 || next.memberships < 2000) {
        const from = next.memberships;
        next.memberships += rows;
        await bound(actor, () =>
          q(
            `INSERT INTO ${app}.memberships (org_id, user_id, role, since)
             SELECT 1 + g % 500, g, 'member', date '2026-01-01' + (g % 300)::int FROM generate_series($1::int, $2::int) g`,
            [from, next.memberships - 1],
          ),
        );
      } else {
        await bound(actor, () =>
          q(
            `UPDATE ${app}.memberships SET role = CASE role WHEN 'member' THEN 'admin' ELSE 'member' END
              WHERE (org_id, user_id) IN (SELECT 1 + g % 500, g FROM unnest($1::int[]) g)`,
            [pick(random, rows, next.memberships - 1)],
          ),
        );
      }
    } else {
      // documents: uuid key, larger rows
      if (op < 0.5 || next.documents < 2000) {
        const from = next.documents;
        next.documents += rows;
        await bound(actor, () =>
          q(
            `INSERT INTO ${app}.documents (id, title, body)
             SELECT md5(g::text)::uuid, 'doc ' || g, repeat(md5(g::text), 6) FROM generate_series($1::int, $2::int) g`,
            [from, next.documents - 1],
          ),
        );
      } else {
        await bound(actor, () =>
          q(
            `UPDATE ${app}.documents SET version = version + 1, body = left(body, 100) || version
              WHERE id IN (SELECT md5(g::text)::uuid FROM unnest($1::int[]) g)`,
            [pick(random, rows, next.documents - 1)],
          ),
        );
      }
    }
    if (Date.now() - lastProgress > 5000) {
      lastProgress = Date.now();
      log(`${label}: ${changes.toLocaleString('en-US')} / ${target.toLocaleString('en-US')} changes`);
    }
  }
  if (asOfAt === '') asOfAt = now();
  await client.query(
    `VACUUM ANALYZE ${storage}.audit_changes, ${storage}.audit_transactions, ${storage}.audit_actions`,
  );
  const { rows } = await client.query(
    `SELECT (SELECT count(*) FROM ${storage}.audit_changes)::int AS changes,
            (SELECT count(*) FROM ${storage}.audit_transactions)::int AS transactions,
            (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('${storage}.audit_changes')) + pg_total_relation_size('${storage}.audit_transactions') AS bytes`,
  );
  const counted = rows[0] as { changes: number; transactions: number; bytes: string };
  if (counted.changes !== changes || counted.transactions !== transactions) {
    throw new Error(
      `${label}: expected ${changes} changes in ${transactions} transactions, the audit tables hold ${counted.changes} in ${counted.transactions}`,
    );
  }
  return {
    label,
    storage,
    app,
    tl,
    changes,
    transactions,
    actions,
    asOfAt,
    loadSeconds: (Date.now() - started) / 1000,
    auditBytes: Number(counted.bytes),
  };
}
