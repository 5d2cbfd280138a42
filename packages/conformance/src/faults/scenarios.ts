import { createThreadline, type Threadline } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConformanceDb, openConformanceDb } from '../fixture.js';
import { type FaultGate, GATED_ID, installFaultGate } from './gate.js';

/** What the application saw of one unit of work (a request, a job, an ORM transaction). */
export interface FaultOutcome {
  ok: boolean;
  /** The error's `code` (the driver's SQLSTATE), when it failed and had one. */
  code?: string | undefined;
  message?: string | undefined;
}

export interface FaultTargetOptions {
  db: ConformanceDb;
  /** The audited table `(id int primary key, note text)`. */
  table: string;
  /** The test database, with the scenario's settings (statement_timeout, lock_timeout) in `options`. */
  url: string;
  /** The application's pool size. */
  poolSize: number;
  /** How long a caller waits for a pooled connection before failing (the pool-exhausted scenario). */
  acquireTimeoutMillis?: number;
}

/** The application under test, on its own pool: one unit of attributed work per write. */
export interface FaultTarget {
  /** Insert row `id` in one audited transaction bound to ActorRef.user(actor). */
  write(id: number, actor: string): Promise<FaultOutcome>;
  close(): Promise<void>;
}

export type OpenFaultTarget = (options: FaultTargetOptions) => Promise<FaultTarget>;

/** A Threadline on a pool of its own with the scenario's settings (request and job targets). */
export function faultThreadline(options: FaultTargetOptions): { tl: Threadline; pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.acquireTimeoutMillis ?? 0,
  });
  pool.on('error', () => undefined);
  return { tl: createThreadline({ db: pool }), pool };
}

/** The outcome of a promise of work, with the error's code and message when it rejects. */
export async function outcomeOf(work: Promise<unknown>): Promise<FaultOutcome> {
  try {
    await work;
    return { ok: true };
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    return {
      ok: false,
      code: typeof e.code === 'string' ? e.code : undefined,
      message: String(e.message ?? error),
    };
  }
}

const withSettings = (url: string, settings: Record<string, string>) => {
  const u = new URL(url);
  u.searchParams.set(
    'options',
    Object.entries(settings)
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' '),
  );
  return u.toString();
};

/** The error the driver gives for each fault: its SQLSTATE, or failing that, its message. */
const DRIVER_ERRORS = {
  terminated: { code: '57P01', message: /terminating connection|Connection terminated/i },
  statementTimeout: { code: '57014', message: /statement timeout/i },
  lockTimeout: { code: '55P03', message: /lock timeout/i },
  poolTimeout: { code: undefined, message: /timeout/i },
} as const;

function expectDriverError(outcome: FaultOutcome, kind: keyof typeof DRIVER_ERRORS): void {
  const want = DRIVER_ERRORS[kind];
  expect(outcome.ok, `expected the ${kind} error, the write succeeded`).toBe(false);
  const seen =
    (want.code !== undefined && outcome.code === want.code) || want.message.test(outcome.message ?? '');
  expect(seen, `expected the driver's ${kind} error, saw ${JSON.stringify(outcome)}`).toBe(true);
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/**
 * The fault scenarios every adapter runs (SPEC §13): a backend terminated inside an audited
 * transaction, statement_timeout and lock_timeout firing inside one, and the pool exhausted.
 * After each: data rows and audit rows match one to one with the right actors, the application
 * saw the driver's error, the pool recovered, and the next 100 writes are attributed correctly.
 */
export function describeFaultScenarios(name: string, open: OpenFaultTarget, enabled = true): void {
  describe.runIf(enabled && postgresEnabled())(`faults: ${name}`, () => {
    let db: ConformanceDb;
    let table: string;
    let gate: FaultGate;
    const expected = new Map<number, string>();
    const targets: FaultTarget[] = [];
    beforeAll(async () => {
      db = await openConformanceDb(2);
      table = await db.table();
      gate = await installFaultGate(db, table);
    });
    afterAll(async () => {
      await gate?.release().catch(() => undefined);
      for (const t of targets) await t.close().catch(() => undefined);
      await gate?.close().catch(() => undefined);
      await db?.close();
    });

    const openTarget = async (settings: Record<string, string> = {}, acquireTimeoutMillis?: number) => {
      const url = Object.keys(settings).length ? withSettings(db.server.url, settings) : db.server.url;
      const target = await open({
        db,
        table,
        url,
        poolSize: 2,
        ...(acquireTimeoutMillis ? { acquireTimeoutMillis } : {}),
      });
      targets.push(target);
      return target;
    };
    const write = (target: FaultTarget, id: number, actor: string) => {
      expected.set(id, actor);
      return target.write(id, actor);
    };

    /** No audit row without its data row or the reverse, each with the actor it was written as. */
    async function expectOneToOne(failed: readonly number[]) {
      const { rows } = await db.server.pool.query<{ id: number }>(`select id from ${table} order by id`);
      const audit = (await db.audit(table)).filter((r) => r.op === 'insert');
      expect(audit.map((r) => r.id).sort((a, b) => a - b)).toEqual(rows.map((r) => r.id));
      for (const row of audit)
        expect({ id: row.id, actor: row.actor }).toEqual({ id: row.id, actor: expected.get(row.id) });
      const stored = new Set(rows.map((r) => r.id));
      for (const id of failed) expect(stored.has(id), `row ${id} of a failed write was stored`).toBe(false);
    }

    /**
     * The next 100 writes succeed, attributed, `atOnce` at a time (the exhausted pool's target
     * sends no more than it has connections, so that none waits out its acquire timeout).
     */
    async function expectNextHundred(target: FaultTarget, from: number, atOnce = 10) {
      const ids = range(100, from);
      for (let i = 0; i < ids.length; i += atOnce) {
        const wave = ids.slice(i, i + atOnce);
        const outcomes = await Promise.all(wave.map((id) => write(target, id, `next${id}`)));
        expect(outcomes).toEqual(wave.map(() => ({ ok: true })));
      }
      const audit = (await db.audit(table)).filter((r) => r.id >= from && r.id < from + 100);
      audit.sort((a, b) => a.id - b.id);
      expect(audit.map((r) => [r.id, r.actor])).toEqual(ids.map((id) => [id, `next${id}`]));
    }

    it('a backend terminated inside an audited transaction: the driver error, nothing half-written', async () => {
      const target = await openTarget();
      await gate.hold();
      const gated = range(2, GATED_ID + 100).map((id) => write(target, id, `killed${id}`));
      const pids = await gate.waiting(2);
      // Queued behind the two killed connections: they run once the pool replaced them.
      const queued = range(5, 110).map((id) => write(target, id, `queued${id}`));
      await gate.terminate(pids);
      await gate.release();
      for (const outcome of await Promise.all(gated)) expectDriverError(outcome, 'terminated');
      expect(await Promise.all(queued)).toEqual(range(5).map(() => ({ ok: true })));
      await expectOneToOne(range(2, GATED_ID + 100));
      await expectNextHundred(target, 1000);
    });

    it('statement_timeout firing inside an audited transaction', async () => {
      const target = await openTarget({ statement_timeout: '500' });
      await gate.hold();
      const gated = write(target, GATED_ID + 200, 'slow');
      await gate.waiting(1);
      const meanwhile = await write(target, 210, 'meanwhile');
      const outcome = await gated;
      await gate.release();
      expectDriverError(outcome, 'statementTimeout');
      expect(meanwhile).toEqual({ ok: true });
      await expectOneToOne([GATED_ID + 200]);
      await expectNextHundred(target, 2000);
    });

    it('lock_timeout firing inside an audited transaction', async () => {
      const target = await openTarget({ lock_timeout: '300' });
      await gate.hold();
      const outcome = await write(target, GATED_ID + 300, 'locked');
      await gate.release();
      expectDriverError(outcome, 'lockTimeout');
      await expectOneToOne([GATED_ID + 300]);
      await expectNextHundred(target, 3000);
    });

    it('the pool exhausted: a caller times out waiting, the held transactions commit as their own actors', async () => {
      const target = await openTarget({}, 300);
      await gate.hold();
      const held = range(2, GATED_ID + 400).map((id) => write(target, id, `held${id}`));
      await gate.waiting(2);
      const starved = await write(target, 410, 'starved');
      await gate.release();
      expectDriverError(starved, 'poolTimeout');
      expect(await Promise.all(held)).toEqual([{ ok: true }, { ok: true }]);
      await expectOneToOne([410]);
      await expectNextHundred(target, 4000, 2);
    });
  });
}
