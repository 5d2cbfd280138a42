import { createTestDatabase, postgresEnabled, type TestDatabase } from '@threadline/test-utils';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isProvablyReadOnly,
  scriptTransactionControl,
  transactionControl,
} from '../src/attribution/statement-rules.js';
import { ActorRef, createThreadline, runWithAuditContext } from '../src/index.js';
import { uniqueName } from './helpers.js';

/**
 * A comment may hold a `;` or sit between keywords: `commit /* ; *\/`, `begin -- x;y`,
 * `start /**\/ transaction` are one transaction-control statement each to PostgreSQL, and to the
 * rules (classified on the lexer's comment-free code, never on the raw text).
 */
const comment = fc.oneof(
  fc.constant(' '),
  fc.constant(' /* ; */ '),
  fc.constant('/**/'),
  fc.constant(' -- x;y\n'),
  fc.constant(' /* a /* ; */ b */ '),
  fc.constant('\n-- ;\n'),
);
const CASES: [string[], 'begin' | 'end' | 'savepoint'][] = [
  [['begin'], 'begin'],
  [['start', 'transaction'], 'begin'],
  [['commit'], 'end'],
  [['rollback'], 'end'],
  [['end'], 'end'],
  [['abort'], 'end'],
  [['rollback', 'to', 'sp'], 'savepoint'],
  [['savepoint', 'sp'], 'savepoint'],
];

describe('transaction control with comments around and between its keywords', () => {
  it('is classified as PostgreSQL reads it (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CASES),
        fc.array(comment, { minLength: 4, maxLength: 4 }),
        fc.boolean(),
        ([words, kind], gaps, semi) => {
          const between = (i: number) => (gaps[i % gaps.length] === ' ' ? ' ' : gaps[i % gaps.length]!);
          const sql = `${gaps[0]!.trim() === '' ? '' : gaps[0]}${words.join(between(1))}${gaps[2]}${semi ? ';' : ''}${gaps[3]}`;
          expect(transactionControl(sql)).toBe(kind);
          expect(scriptTransactionControl(sql)).toBe('none');
          expect(scriptTransactionControl(`${sql};insert into t values (1)`)).toBe(
            kind === 'begin' ? 'open' : kind === 'end' ? 'closed' : 'none',
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the examples the hunt found', () => {
    expect(transactionControl('commit /* ; */')).toBe('end');
    expect(transactionControl('begin -- x;y\n')).toBe('begin');
    expect(transactionControl('begin -- ;x')).toBe('begin');
    expect(transactionControl('start /**/ transaction')).toBe('begin');
    expect(transactionControl("select ';' /* ; */")).toBeNull();
    expect(isProvablyReadOnly('show all /* ; */')).toBe(true);
    expect(isProvablyReadOnly('show all; insert into t values (1)')).toBe(false);
  });
});

describe.runIf(postgresEnabled())('commented transaction control on a Pool of 1', () => {
  let server: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await createTestDatabase();
    await createThreadline({ db: server.pool }).install();
    pool = new pg.Pool({ connectionString: server.url, max: 1 });
  });
  afterAll(async () => {
    await pool?.end();
    await server?.drop();
  });

  it('30 contexts: each is refused, no write is lost or misattributed, the connection ends idle', async () => {
    const tl = createThreadline({ db: pool });
    const t = uniqueName('ctlc');
    await server.pool.query(`create table ${t} (id int primary key, actor text)`);
    await tl.installTriggers({ tables: [t] });
    const N = 30;
    const tries = ['commit /* ; */', 'begin -- x;y\n', 'start /**/ transaction', 'rollback -- ;'];
    const refused = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        runWithAuditContext({ actor: ActorRef.user(`u${i}`) }, async () => {
          const control = tries[i % tries.length]!;
          let codes: unknown[] = [];
          await tl
            .transaction(async (tx) => {
              await tx.query(`insert into ${t} values ($1, $2)`, [i, `u${i}`]);
              await tx.query(control);
            })
            .catch((e: { code?: unknown }) => codes.push(e.code));
          await tl.query(control).catch((e: { code?: unknown }) => codes.push(e.code));
          await tl.query(`insert into ${t} values ($1, $2)`, [1000 + i, `u${i}`]);
          const out = codes;
          codes = [];
          return out;
        }),
      ),
    );
    expect(refused.flat()).toEqual(Array(2 * N).fill('TRANSACTION_CONTROL'));
    const { rows } = await server.pool.query(
      `select r.id, r.actor, tr.actor_ref->>'id' as audited
         from ${t} r left join threadline.audit_changes c on c.table_name = $1 and (c.table_pk->>'id')::int = r.id
         left join threadline.audit_transactions tr on tr.id = c.transaction_id`,
      [t],
    );
    expect(rows.length).toBe(N);
    expect(rows.filter((r) => r.audited !== r.actor)).toEqual([]);
    const c = await pool.connect();
    try {
      expect((c as unknown as { getTransactionStatus(): string }).getTransactionStatus()).toBe('I');
    } finally {
      c.release();
    }
  });
});
