/**
 * The benchmark's endpoint, independent of the framework: validate a parsed JSON order, then one
 * database transaction that inserts the order and updates the customer's balance row.
 * Both variants send the same four round trips per request: plain BEGIN / INSERT / UPDATE / COMMIT;
 * Threadline BEGIN + binding (pipelined) / INSERT / UPDATE / finish + COMMIT.
 */
import type { Threadline } from '@threadline/core';
import type pg from 'pg';

/** Each variant has its own copy of the tables: no triggers in shop_plain, capture on shop_tl. */
export const SHOP_SCHEMA = { plain: 'shop_plain', threadline: 'shop_tl' } as const;
/** Balance rows; requests spread over them so that row locks rarely collide. */
export const CUSTOMERS = 1000;

export function shopSetupSql(schema: string): string {
  return `
    CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.orders (
      id bigserial PRIMARY KEY,
      customer_id int NOT NULL,
      sku text NOT NULL,
      quantity int NOT NULL,
      price_cents int NOT NULL,
      note text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${schema}.orders (customer_id);
    CREATE TABLE ${schema}.balances (
      customer_id int PRIMARY KEY,
      orders int NOT NULL DEFAULT 0,
      total_cents bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO ${schema}.balances (customer_id) SELECT g FROM generate_series(1, ${CUSTOMERS}) g;`;
}

export interface Order {
  customerId: number;
  sku: string;
  quantity: number;
  priceCents: number;
  note: string | null;
}

export class BadOrder extends Error {}

/** Validate a parsed JSON body (the same checks in every framework). */
export function parseOrder(body: unknown): Order {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const int = (key: string, min: number, max: number) => {
    const v = b[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new BadOrder(`${key} must be an integer in ${min}..${max}`);
    return v;
  };
  if (typeof b.sku !== 'string' || b.sku.length === 0 || b.sku.length > 64)
    throw new BadOrder('sku must be a string of 1..64 characters');
  if (b.note !== undefined && b.note !== null && (typeof b.note !== 'string' || b.note.length > 500))
    throw new BadOrder('note must be a string of at most 500 characters');
  return {
    customerId: int('customerId', 1, CUSTOMERS),
    sku: b.sku,
    quantity: int('quantity', 1, 1000),
    priceCents: int('priceCents', 0, 10_000_000),
    note: (b.note as string | undefined) ?? null,
  };
}

export interface Placed {
  id: string;
  totalCents: number;
}

export type PlaceOrder = (order: Order) => Promise<Placed>;

const insertSql = (schema: string) =>
  `INSERT INTO ${schema}.orders (customer_id, sku, quantity, price_cents, note) VALUES ($1, $2, $3, $4, $5) RETURNING id`;
const updateSql = (schema: string) =>
  `UPDATE ${schema}.balances SET orders = orders + 1, total_cents = total_cents + $2, updated_at = now() WHERE customer_id = $1`;
const insertParams = (o: Order) => [o.customerId, o.sku, o.quantity, o.priceCents, o.note];

/** Without Threadline: node-postgres BEGIN, INSERT, UPDATE, COMMIT on a pooled connection. */
export function plainPlaceOrder(pool: pg.Pool): PlaceOrder {
  const insert = insertSql(SHOP_SCHEMA.plain);
  const update = updateSql(SHOP_SCHEMA.plain);
  return async (o) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ id: string }>(insert, insertParams(o));
      await client.query(update, [o.customerId, o.quantity * o.priceCents]);
      await client.query('COMMIT');
      return { id: rows[0]!.id, totalCents: o.quantity * o.priceCents };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
}

/** With Threadline: tl.transaction binds the request's audit context; capture writes the audit rows. */
export function threadlinePlaceOrder(tl: Threadline): PlaceOrder {
  const insert = insertSql(SHOP_SCHEMA.threadline);
  const update = updateSql(SHOP_SCHEMA.threadline);
  return async (o) => {
    const { result } = await tl.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(insert, insertParams(o));
      await tx.query(update, [o.customerId, o.quantity * o.priceCents]);
      return rows[0]!.id;
    });
    return { id: result, totalCents: o.quantity * o.priceCents };
  };
}
