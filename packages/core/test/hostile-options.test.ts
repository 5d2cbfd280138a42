import { describeEachDb, HOSTILE_OBJECTS, HOSTILE_VALUES, outcome } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import {
  ActorRef,
  createThreadline,
  runWithAuditContext,
  setAuditActor,
  type Threadline,
  updateAuditContext,
} from '../src/index.js';
import { uniqueName } from './helpers.js';

interface Env {
  db: unknown;
  tl: Threadline;
  table: string;
  tx: string;
  actor: ActorRef;
}

interface Entry {
  /** The names its errors may start with: the entry point's (for filters' values, timeline's). */
  says: string[];
  /** The error codes this entry point uses for bad input. */
  codes: string[];
  /** A key the options object knows, whose value is checked; null: the argument is not an options object. */
  key: string | null;
  /** Stand-ins that are valid for this argument (a function as a transaction body, a bigint key). */
  skip: string[];
  call: (env: Env, input: unknown) => unknown;
}

const Q = ['QUERY_INVALID'];
/** Entry points that refuse some values (every, table lists) as configuration. */
const QC = ['QUERY_INVALID', 'CONFIG_INVALID'];
const QA = ['QUERY_INVALID', 'INVALID_ACTOR'];
const CTX = ['INVALID_CONTEXT', 'INVALID_ACTOR'];

function entry(
  name: string,
  says: string | string[],
  codes: string[],
  key: string | null,
  call: Entry['call'],
  skip: string[] = [],
): [string, Entry] {
  return [name, { says: typeof says === 'string' ? [says] : says, codes, key, call, skip }];
}

/** Every public entry point that takes an options or input object, with the argument it gets. */
const ENTRIES: [string, Entry][] = [
  entry(
    'createThreadline options',
    'createThreadline',
    ['CONFIG_INVALID', 'UNSUPPORTED_CLIENT'],
    'schema',
    (_e, o) => createThreadline(o as never),
  ),
  entry(
    'createThreadline retention',
    ['createThreadline', 'retention'],
    ['CONFIG_INVALID'],
    'keepDays',
    (e, o) => createThreadline({ db: e.db, retention: o as never }),
  ),
  entry(
    'createThreadline storage',
    ['createThreadline', 'storage'],
    ['CONFIG_INVALID'],
    'partition',
    (e, o) => createThreadline({ db: e.db, storage: o as never }),
  ),
  entry(
    'createThreadline tables',
    ['createThreadline', 'tables'],
    ['CONFIG_INVALID'],
    'posts',
    (e, o) => createThreadline({ db: e.db, tables: o as never }),
    // An empty object is a table with default options (the get-trap proxy has no keys to read).
    [
      'a null-prototype object holding a null-prototype object',
      'a null-prototype object',
      'a proxy whose get trap throws',
    ],
  ),
  entry('history options', 'history', Q, 'pageSize', (e, o) => e.tl.history(e.table, { id: 1 }, o as never)),
  entry('history key', 'history', Q, 'id', (e, o) => e.tl.history(e.table, o as never), ['a bigint']),
  entry('asOf options', 'asOf', Q, 'consistency', (e, o) =>
    e.tl.asOf(e.table, { id: 1 }, new Date(), o as never),
  ),
  entry('asOf key', 'asOf', Q, 'id', (e, o) => e.tl.asOf(e.table, o as never, new Date()), ['a bigint']),
  entry('asOf at', 'asOf', Q, null, (e, o) => e.tl.asOf(e.table, { id: 1 }, o as never)),
  entry('actorHistory actor', 'actorHistory', Q, 'id', (e, o) => e.tl.actorHistory(o as never)),
  entry('actorHistory options', 'actorHistory', Q, 'pageSize', (e, o) =>
    e.tl.actorHistory(e.actor, o as never),
  ),
  entry('timeline filters', 'timeline', Q, 'table', (e, o) => e.tl.timeline(o as never)),
  entry('timeline options', 'timeline', Q, 'pageSize', (e, o) => e.tl.timeline({}, o as never)),
  entry('activity filters', ['activity', 'timeline'], Q, 'bucket', (e, o) => e.tl.activity(o as never)),
  entry('auditTransaction id', 'auditTransaction', Q, null, (e, o) => e.tl.auditTransaction(o as never), [
    'a bigint',
  ]),
  entry('auditTransaction options', 'auditTransaction', Q, 'changeLimit', (e, o) =>
    e.tl.auditTransaction(e.tx, o as never),
  ),
  entry('auditTransactions filter', 'auditTransactions', Q, 'requestId', (e, o) =>
    e.tl.auditTransactions(o as never),
  ),
  entry('auditTransactions options', 'auditTransactions', Q, 'pageSize', (e, o) =>
    e.tl.auditTransactions({ requestId: 'r' }, o as never),
  ),
  entry('uninstall options', 'uninstall', Q, 'dryRun', (e, o) => e.tl.uninstall(o as never)),
  entry('transaction body', 'tl.transaction', Q, null, (e, o) => e.tl.transaction(o as never), [
    'a function',
    'a revoked proxy of a function',
  ]),
  entry('query params', 'tl.query', Q, null, (e, o) => e.tl.query('select 1', o as never), ['an array']),
  entry('installTriggers options', 'installTriggers', QC, 'tables', (e, o) =>
    e.tl.installTriggers(o as never),
  ),
  entry('planTriggers options', 'planTriggers', QC, 'tables', (e, o) => e.tl.planTriggers(o as never)),
  entry('removeTriggers options', 'removeTriggers', QC, 'tables', (e, o) => e.tl.removeTriggers(o as never)),
  entry('recordAction options', 'recordAction', ['QUERY_INVALID', 'INVALID_CONTEXT'], 'reason', (e, o) =>
    runWithAuditContext({ actor: e.actor }, () => e.tl.recordAction('x.done', o as never)),
  ),
  entry('retention.purge options', 'retention.purge', Q, 'dryRun', (e, o) =>
    e.tl.retention.purge(o as never),
  ),
  entry('retention.runs options', 'retention.runs', Q, 'limit', (e, o) => e.tl.retention.runs(o as never)),
  entry('retention.schedule options', 'retention.schedule', QC, 'every', (e, o) =>
    e.tl.retention.schedule(o as never),
  ),
  entry('storage.maintain options', 'storage.maintain', Q, 'onProgress', (e, o) =>
    e.tl.storage.maintain(o as never),
  ),
  entry('revert.plan target', 'revert.plan', Q, 'correlationId', (e, o) => e.tl.revert.plan(o as never)),
  entry('revert.apply plan', 'revert.apply', Q, 'steps', (e, o) =>
    e.tl.revert.apply(o as never, { actor: e.actor }),
  ),
  entry('revert.apply options', 'revert.apply', QA, 'batchSize', async (e, o) =>
    e.tl.revert.apply(await e.tl.revert.plan({ transactionId: e.tx }), o as never),
  ),
  entry('health.coverage options', 'health.coverage', Q, 'schema', (e, o) =>
    e.tl.health.coverage(o as never),
  ),
  entry('health.findings options', 'health.findings', Q, 'schema', (e, o) =>
    e.tl.health.findings(o as never),
  ),
  entry('health.verify options', 'health.verify', QC, 'expectedTables', (e, o) =>
    e.tl.health.verify(o as never),
  ),
  entry('policy.show options', 'policy.show', QC, 'tables', (e, o) => e.tl.policy.show(o as never)),
  entry('continuity.report options', 'continuity.report', QC, 'tables', (e, o) =>
    e.tl.continuity.report(o as never),
  ),
  entry('continuity.baseline options', 'continuity.baseline', QC, 'table', (e, o) =>
    e.tl.continuity.baseline(o as never),
  ),
  entry('integrity.seal options', 'integrity.seal', Q, 'chunkSize', (e, o) =>
    e.tl.integrity.seal(o as never),
  ),
  entry('integrity.verify options', 'integrity.verify', Q, 'from', (e, o) =>
    e.tl.integrity.verify(o as never),
  ),
  entry('integrity.schedule options', 'integrity.schedule', QC, 'every', (e, o) =>
    e.tl.integrity.schedule(o as never),
  ),
  entry('export.count filters', ['export.count', 'timeline'], Q, 'table', (e, o) =>
    e.tl.export.count(o as never),
  ),
  entry('export.count options', 'export.count', Q, 'cap', (e, o) => e.tl.export.count({}, o as never)),
  // export.stream's errors say export (existing messages).
  entry('export.stream filters', ['export', 'timeline'], Q, 'table', (e, o) =>
    e.tl.export.stream(o as never, { format: 'csv', actor: e.actor }),
  ),
  entry('export.stream options', 'export', Q, 'format', (e, o) => e.tl.export.stream({}, o as never)),
  entry('export.toBuffer filters', ['export.toBuffer', 'timeline'], Q, 'table', (e, o) =>
    e.tl.export.toBuffer(o as never, { format: 'csv', actor: e.actor }),
  ),
  entry('export.toBuffer options', 'export.toBuffer', Q, 'maxRows', (e, o) =>
    e.tl.export.toBuffer({}, o as never),
  ),
  entry('export.configure config', 'export.configure', QC, 'ttlMs', (e, o) =>
    e.tl.export.configure(o as never),
  ),
  entry('export.enqueue filters', ['export.enqueue', 'timeline'], Q, 'table', (e, o) =>
    e.tl.export.enqueue(o as never, { format: 'csv', requestedBy: e.actor }),
  ),
  entry('export.enqueue options', 'export.enqueue', QA, 'format', (e, o) =>
    e.tl.export.enqueue({}, o as never),
  ),
  entry('export.download options', 'export.download', QA, 'actor', (e, o) =>
    e.tl.export.download('0b9f6c1e-4f0a-4c52-9a51-2f1f2a9d8e11', o as never),
  ),
  // A readable change of an unknown shape diffs to no fields (rows written by hand): only unreadable ones fail.
  entry('changeDiff change', 'changeDiff', Q, null, (e, o) => e.tl.changeDiff(o as never), [
    'a proxy whose has trap throws',
  ]),
  entry('runWithAuditContext context', ['audit context', 'ActorRef.parse'], CTX, 'actor', (_e, o) =>
    runWithAuditContext(o as never, () => 1),
  ),
  entry('updateAuditContext patch', ['audit context', 'ActorRef.parse'], CTX, 'actor', (_e, o) =>
    runWithAuditContext({}, () => updateAuditContext(o as never)),
  ),
  entry('setAuditActor actor', 'ActorRef.parse', ['INVALID_ACTOR'], 'id', (_e, o) =>
    runWithAuditContext({}, () => setAuditActor(o as never)),
  ),
  entry('ActorRef.parse value', 'ActorRef.parse', ['INVALID_ACTOR'], 'id', (_e, o) => ActorRef.parse(o)),
  // export.job's errors say export (existing messages).
  entry('export.job id', 'export', Q, null, (e, o) => e.tl.export.job(o as never)),
];

/**
 * Hostile objects — revoked proxies, throwing getters and traps, null prototypes, arrays,
 * functions, symbols and bigints — given to any public entry point end in a ThreadlineError that
 * names it, never a raw TypeError, and leave nothing half done.
 */
describeEachDb('hostile option objects end in a ThreadlineError naming the entry point', (db) => {
  const env = {} as Env;

  const changes = async () =>
    (await db().sql<{ n: number }>(`select count(*)::int as n from threadline.audit_changes`))[0]!.n;

  beforeAll(async () => {
    env.table = uniqueName('hostile');
    await db().exec(`create table ${env.table} (id int primary key, v text)`);
    env.db = db().db;
    env.tl = createThreadline({ db: env.db, retention: { enabled: true, keepDays: 30 } });
    env.actor = ActorRef.user('hostile');
    await env.tl.install();
    await env.tl.installTriggers({ tables: [env.table] });
    const { auditTransactionId } = await runWithAuditContext({ actor: env.actor }, () =>
      env.tl.transaction((tx) => tx.query(`insert into ${env.table} values (1, 'a'), (2, 'b')`)),
    );
    env.tx = auditTransactionId!;
  });

  const expectRefused = (entry: Entry, result: string) => {
    const codes = entry.codes.join('|');
    const says = entry.says.map((name) => name.replace('.', '\\.')).join('|');
    expect(result).toMatch(new RegExp(`^(${codes}): (${says})\\b`));
  };

  const wholeCases = ENTRIES.flatMap(([name, entry]) =>
    HOSTILE_OBJECTS.filter(
      ([kind]) => !entry.skip.includes(kind) && (entry.key !== null || !kind.startsWith('a null-prototype')),
    ).map(([kind, make]) => [name, kind, entry, make] as const),
  );

  it.each(wholeCases)('%s: %s is refused', async (_name, _kind, entry, make) => {
    expectRefused(entry, await outcome(() => entry.call(env, make(entry.key ?? 'id'))));
  });

  const valueCases = ENTRIES.filter(([, entry]) => entry.key !== null).flatMap(([name, entry]) =>
    HOSTILE_VALUES.filter(([kind]) => !entry.skip.includes(kind)).map(
      ([kind, make]) => [name, kind, entry, make] as const,
    ),
  );

  it.each(valueCases)(
    '%s: %s as the value of its known key is refused',
    async (_name, _kind, entry, make) => {
      expectRefused(entry, await outcome(() => entry.call(env, { [entry.key!]: make() })));
    },
  );

  it('a null-prototype options object with good values is read like a plain one', async () => {
    const filters = Object.assign(Object.create(null), { table: env.table });
    const page = await env.tl.timeline(filters, Object.assign(Object.create(null), { pageSize: 1 }));
    expect(page.entries).toHaveLength(1);
    expect(page.hasMore).toBe(true);
  });

  it('a refused call inside a transaction leaves it usable: its earlier changes commit and are captured', async () => {
    const before = await changes();
    await runWithAuditContext({ actor: env.actor }, () =>
      env.tl.transaction(async (tx) => {
        await tx.query(`insert into ${env.table} values (3, 'c')`);
        for (const [, make] of HOSTILE_OBJECTS)
          expect(await outcome(() => env.tl.recordAction('x.done', make('reason') as never))).toMatch(
            /^(QUERY_INVALID|INVALID_CONTEXT): recordAction/,
          );
        for (const [kind, make] of HOSTILE_OBJECTS.filter(([kind]) => kind !== 'a bigint'))
          expect(`${kind}: ${await outcome(() => env.tl.history(env.table, make('id') as never))}`).toMatch(
            /: QUERY_INVALID: history/,
          );
        for (const [kind, make] of HOSTILE_OBJECTS.filter(([kind]) => kind !== 'an array'))
          expect(`${kind}: ${await outcome(() => tx.query('select 1', make('0') as never))}`).toMatch(
            /: QUERY_INVALID: tl\.transaction: params/,
          );
        await tx.query(`insert into ${env.table} values (4, 'd')`);
      }),
    );
    expect(await changes()).toBe(before + 2);
  });

  it('an error thrown by the caller’s own callback propagates unchanged and rolls back', async () => {
    const mine = new TypeError('mine');
    const before = await changes();
    await expect(
      runWithAuditContext({ actor: env.actor }, () =>
        env.tl.transaction(async (tx) => {
          await tx.query(`insert into ${env.table} values (5, 'e')`);
          throw mine;
        }),
      ),
    ).rejects.toBe(mine);
    expect(await changes()).toBe(before);
    expect(await db().sql(`select 1 from ${env.table} where id = 5`)).toEqual([]);
  });

  it('an error thrown by a progress callback propagates unchanged, and what it interrupted changed nothing', async () => {
    const mine = new TypeError('mine');
    const throwing = () => {
      throw mine;
    };
    const table = uniqueName('hostile_cb');
    await db().exec(`create table ${table} (id int primary key)`);
    const rows = async () => (await db().sql(`select id from ${env.table} order by id`)).length;
    const before = { changes: await changes(), rows: await rows() };
    const plan = await env.tl.revert.plan({ transactionId: env.tx });
    const calls: [string, () => unknown][] = [
      ['installTriggers onTable', () => env.tl.installTriggers({ tables: [table], onTable: throwing })],
      ['planTriggers onTable', () => env.tl.planTriggers({ tables: [table], onTable: throwing })],
      [
        'revert.apply onProgress',
        () => env.tl.revert.apply(plan, { actor: env.actor, onProgress: throwing }),
      ],
      [
        'continuity.baseline onProgress',
        () => env.tl.continuity.baseline({ table: env.table, actor: env.actor, onProgress: throwing }),
      ],
    ];
    const seen: string[] = [];
    for (const [name, call] of calls) {
      let thrown: unknown;
      try {
        await call();
      } catch (error) {
        thrown = error;
      }
      seen.push(`${name}: ${thrown === mine ? 'mine' : String(thrown)}`);
    }
    expect(seen).toEqual(calls.map(([name]) => `${name}: mine`));
    expect(await changes()).toBe(before.changes);
    expect(await rows()).toBe(before.rows);
    // installTriggers stopped at its first table: no capture trigger was left behind.
    expect(
      await db().sql(`select tgname from pg_trigger where tgrelid = $1::regclass and not tgisinternal`, [
        table,
      ]),
    ).toEqual([]);
  });

  it('an error thrown by retention.purge onBatch propagates unchanged; the run is recorded as failed', async () => {
    const t = uniqueName('hostile_purge');
    await db().exec(`create table ${t} (id int primary key)`);
    await env.tl.installTriggers({ tables: [t] });
    const { auditTransactionId } = await runWithAuditContext({ actor: env.actor }, () =>
      env.tl.transaction((tx) => tx.query(`insert into ${t} values (1)`)),
    );
    await db().sql(
      `update threadline.audit_changes set captured_at = captured_at - interval '400 days' where transaction_id = $1`,
      [auditTransactionId],
    );
    const mine = new TypeError('mine');
    const onBatch = () => {
      throw mine;
    };
    await expect(env.tl.retention.purge({ onBatch })).rejects.toBe(mine);
    const [run] = await env.tl.retention.runs({ limit: 1 });
    expect(run).toMatchObject({ status: 'failed', error: 'retention.purge: onBatch threw: TypeError: mine' });
  });

  it('nothing was left half done: no open transaction, no checked-out client, the audit rows intact', async () => {
    if (db().kind === 'postgres') {
      const pool = db().db as import('pg').Pool;
      expect(pool.totalCount - pool.idleCount).toBe(0);
      const open = await db().sql(
        `select pid from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`,
      );
      expect(open).toEqual([]);
    }
    expect(await db().sql(`select id, v from ${env.table} order by id`)).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
      { id: 3, v: 'c' },
      { id: 4, v: 'd' },
    ]);
    expect(await env.tl.installedVersion()).not.toBeNull();
  });
});
