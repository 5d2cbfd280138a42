import { createTestDatabase, describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext } from '../src/index.js';
import { uniqueName } from './helpers.js';

describeEachDb(
  'integrity: seals and concurrent capture',
  (db) => {
    /** A table captured into its own storage schema, through a pool of `size` connections. */
    async function capturedTable(name: string, size: number) {
      const schema = uniqueName(`seal${name}`);
      const table = uniqueName(name);
      await db().exec(`create table ${table} (id int primary key)`);
      const pool = db().server!.newPool(size);
      const tl = createThreadline({ db: pool, schema });
      await tl.install();
      await tl.installTriggers({ tables: [table] });
      return { schema, table, pool, tl };
    }

    it('never seals past a transaction still in progress, and a later seal picks its rows up', async () => {
      const { schema, table, pool, tl } = await capturedTable('gap', 3);
      try {
        const open = await pool.connect();
        try {
          // The open transaction captures first: it holds the lower ids.
          await open.query('begin');
          await open.query(`insert into ${table} values (1)`);
          const low = await open.query<{ id: string }>(
            `select max(id)::text as id from "${schema}".audit_changes`,
          );
          await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
            tl.transaction((tx) => tx.query(`insert into ${table} values (2)`)),
          );
          const high = await db().sql<{ id: string }>(
            `select max(id)::text as id from "${schema}".audit_changes`,
          );
          expect(BigInt(high[0]!.id)).toBeGreaterThan(BigInt(low.rows[0]!.id));
          const first = await tl.integrity.seal({ waitMs: 0 });
          expect(BigInt(first.sealedThrough.audit_changes)).toBeLessThan(BigInt(low.rows[0]!.id));
          expect(first.pending).toMatchObject({ openTransactions: 1 });
          await open.query('commit');
        } finally {
          open.release();
        }
        const second = await tl.integrity.seal();
        expect(second.pending).toBeNull();
        expect(second.sealedThrough.audit_changes).toBe(
          (await db().sql<{ id: string }>(`select max(id)::text as id from "${schema}".audit_changes`))[0]!
            .id,
        );
        const result = await tl.integrity.verify();
        expect(result).toMatchObject({
          ok: true,
          rowsChecked: 4,
          unsealed: { audit_changes: 0, audit_transactions: 0 },
        });
      } finally {
        await pool.end();
      }
    });

    it('never seals past a transaction whose xid is newer than every finished one (above the snapshot xmax)', async () => {
      // A snapshot's xmax is the newest *finished* xid + 1: a transaction that took its xid after
      // the last one finished is running but in no xip list. Nothing else finishes here between
      // the open transaction's capture and the seal's watermark, so the open xid is above xmax.
      const { table, pool, tl } = await capturedTable('xmax', 2);
      try {
        const open = await pool.connect();
        try {
          await open.query('begin');
          await open.query(`insert into ${table} values (1)`);
          const first = await tl.integrity.seal({ waitMs: 0 });
          expect(first.sealedThrough).toEqual({ audit_changes: '0', audit_transactions: '0' });
          expect(first.pending).toMatchObject({ openTransactions: 1 });
          await open.query('commit');
        } finally {
          open.release();
        }
        const second = await tl.integrity.seal();
        expect(second.pending).toBeNull();
        const result = await tl.integrity.verify();
        expect(result.findings).toEqual([]);
        expect(result).toMatchObject({ ok: true, rowsChecked: 2 });
      } finally {
        await pool.end();
      }
    });

    it('a watermark left by schema 8 (no xid bound) is held back by a transaction open at the upgrade', async () => {
      const { schema, table, pool, tl } = await capturedTable('v8', 2);
      try {
        await pool.query(`alter table "${schema}".integrity_watermarks drop column xid_bound`);
        const open = await pool.connect();
        try {
          await open.query('begin');
          await open.query(`insert into ${table} values (1)`);
          // What schema 8 wrote: sequence positions and a snapshot that does not list the open
          // transaction (its xid is above the snapshot's xmax).
          await pool.query(
            `insert into "${schema}".integrity_watermarks (changes_last, transactions_last, snap)
             values (1, 1, pg_current_snapshot())`,
          );
          await tl.install(); // the upgrade adds xid_bound to the old row
          const sealed = await tl.integrity.seal({ waitMs: 0 });
          expect(sealed.sealedThrough).toEqual({ audit_changes: '0', audit_transactions: '0' });
          await open.query('commit');
        } finally {
          open.release();
        }
        await tl.integrity.seal();
        const result = await tl.integrity.verify();
        expect(result.findings).toEqual([]);
        expect(result).toMatchObject({ ok: true, rowsChecked: 2 });
      } finally {
        await pool.end();
      }
    });

    it('a transaction open in another database of the cluster does not hold seals back', async () => {
      const schema = uniqueName('sealother');
      const table = uniqueName('other');
      await db().exec(`create table ${table} (id int primary key)`);
      const tl = createThreadline({ db: db().db, schema });
      await tl.install();
      await tl.installTriggers({ tables: [table] });
      await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
        tl.transaction((tx) => tx.query(`insert into ${table} values (1)`)),
      );
      const other = await createTestDatabase('tl_seal_other');
      const open = await other.pool.connect();
      try {
        await open.query('begin');
        await open.query('select pg_current_xact_id()');
        const sealed = await tl.integrity.seal({ waitMs: 0 });
        expect(sealed.pending).toBeNull();
        expect(sealed.sealedRows).toBe(2);
      } finally {
        await open.query('rollback');
        open.release();
        await other.drop();
      }
    });

    it('30 concurrent capturing transactions on a pool of 2 while seals run: none waits on the seal, no false finding, all sealed', async () => {
      const schema = uniqueName('sealconc');
      const table = uniqueName('conc');
      await db().exec(`create table ${table} (id int primary key, n int)`);
      const admin = db().server!.newPool(2);
      const app = db().server!.newPool(2);
      try {
        const tl = createThreadline({ db: admin, schema });
        await tl.install();
        await tl.installTriggers({ tables: [table] });
        const appTl = createThreadline({ db: app, schema });
        // A seal holding the chain lock for the whole run (as a long seal would): capture never
        // asks for it, so every write below completes while it is held.
        const holder = await admin.connect();
        await holder.query('begin');
        await holder.query(`select pg_advisory_xact_lock(hashtext('threadline.integrity:' || $1))`, [schema]);
        const writes = Array.from({ length: 30 }, (_, i) =>
          runWithAuditContext({ actor: ActorRef.user(String(i)) }, () =>
            appTl.transaction(async (tx) => {
              await tx.query(`insert into ${table} values ($1, 0)`, [i]);
              await tx.query(`update ${table} set n = n + 1 where id = $1`, [i]);
            }),
          ),
        );
        await Promise.all(writes);
        await holder.query('commit');
        holder.release();
        // Then seals run while a second wave captures.
        let sealing = true;
        const seals = (async () => {
          let runs = 0;
          while (sealing || runs === 0) {
            await tl.integrity.seal({ chunkSize: 100, waitMs: 50 });
            runs++;
          }
          return runs;
        })();
        await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            runWithAuditContext({ actor: ActorRef.user(String(i)) }, () =>
              appTl.transaction(async (tx) => {
                await tx.query(`update ${table} set n = n + 1 where id = $1`, [i]);
                await tx.query(`insert into ${table} values ($1, 0)`, [100 + i]);
              }),
            ),
          ),
        );
        sealing = false;
        expect(await seals).toBeGreaterThan(0);
        const last = await tl.integrity.seal();
        expect(last.pending).toBeNull();
        const result = await tl.integrity.verify();
        expect(result.findings).toEqual([]);
        expect(result).toMatchObject({
          ok: true,
          rowsChecked: 120 + 60,
          unsealed: { audit_changes: 0, audit_transactions: 0 },
        });
      } finally {
        await admin.end();
        await app.end();
      }
    });
  },
  ['postgres'],
);
