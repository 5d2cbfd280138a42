import pg from 'pg';
import type { ConformanceDb } from '../fixture.js';

/** Rows with an id at or above this pass through the gate: their insert waits while it is held. */
export const GATED_ID = 1_000_000;
const GATE_KEY = 1_212_121;

/**
 * A gate on an audited table: a statement-level AFTER INSERT trigger that fires after
 * Threadline's capture trigger (triggers fire in name order) and, for rows with id >= GATED_ID,
 * waits for a shared advisory lock. While the gate is held, such an insert stops inside its
 * audited transaction with its audit row already written, so a fault can strike right there.
 */
export interface FaultGate {
  hold(): Promise<void>;
  release(): Promise<void>;
  /** The backend pids of `count` inserts waiting at the gate (waits until there are that many). */
  waiting(count: number): Promise<number[]>;
  /** pg_terminate_backend on each pid, as an operator or a failover would. */
  terminate(pids: readonly number[]): Promise<void>;
  close(): Promise<void>;
}

export async function installFaultGate(db: ConformanceDb, table: string): Promise<FaultGate> {
  await db.server.pool.query(
    `create function ${table}_gate() returns trigger language plpgsql as $$
     begin
       if exists (select 1 from gated_rows where id >= ${GATED_ID}) then
         perform pg_advisory_xact_lock_shared(${GATE_KEY});
       end if;
       return null;
     end $$;
     create trigger zz_fault_gate after insert on ${table} referencing new table as gated_rows
       for each statement execute function ${table}_gate();`,
  );
  const holder = new pg.Client({ connectionString: db.server.url });
  await holder.connect();
  return {
    async hold() {
      await holder.query('select pg_advisory_lock($1)', [GATE_KEY]);
    },
    async release() {
      await holder.query('select pg_advisory_unlock($1)', [GATE_KEY]);
    },
    async waiting(count) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const { rows } = await db.server.pool.query<{ pid: number }>(
          `select pid from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'
            order by pid`,
        );
        if (rows.length >= count) return rows.map((r) => r.pid);
        if (Date.now() > deadline)
          throw new Error(`expected ${count} inserts waiting at the gate, found ${rows.length}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async terminate(pids) {
      await db.server.pool.query('select pg_terminate_backend(pid) from unnest($1::int[]) pid', [pids]);
    },
    close: () => holder.end(),
  };
}
