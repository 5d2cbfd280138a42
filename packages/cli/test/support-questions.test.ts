import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { type ExploreFixture, loadExploreFixture } from './explore-fixture.js';
import { describeWithDatabase, PACKAGE_DIR, runCli, sql } from './helpers.js';

/**
 * Runs every SQL snippet of docs/support-questions.md (psql `\set` variables become bound
 * parameters) against the exploration fixture and checks it answers what the API and the CLI
 * answer.
 */
interface Snippet {
  sql: string;
  defaults: Record<string, string>;
}

function snippets(): Map<string, Snippet> {
  const text = readFileSync(join(PACKAGE_DIR, '..', '..', 'docs', 'support-questions.md'), 'utf8');
  const found = new Map<string, Snippet>();
  for (const m of text.matchAll(/<!-- support-sql: ([\w-]+) -->\n```sql\n([\s\S]*?)```/g)) {
    const defaults: Record<string, string> = {};
    const body: string[] = [];
    for (const line of m[2]!.split('\n')) {
      const set = /^\\set (\w+) (.*)$/.exec(line);
      if (set) defaults[set[1]!] = set[2]!.replace(/^'(.*)'$/, '$1');
      else body.push(line);
    }
    found.set(m[1]!, { sql: body.join('\n').trim().replace(/;$/, ''), defaults });
  }
  return found;
}

/** psql's :'name' → $n, with the values from `vars` (else the snippet's \set defaults). */
function bind(snippet: Snippet, vars: Record<string, string> = {}): { text: string; params: string[] } {
  const names: string[] = [];
  const text = snippet.sql.replace(/:'(\w+)'/g, (_all, name: string) => {
    if (!(name in snippet.defaults)) throw new Error(`:'${name}' has no \\set in the snippet`);
    if (!names.includes(name)) names.push(name);
    return `$${names.indexOf(name) + 1}`;
  });
  return { text, params: names.map((n) => vars[n] ?? snippet.defaults[n]!) };
}

describeWithDatabase('docs/support-questions.md', (db) => {
  let fx: ExploreFixture;
  const all = snippets();
  const run = async <R = Record<string, unknown>>(name: string, vars?: Record<string, string>) => {
    const snippet = all.get(name);
    if (!snippet) throw new Error(`no snippet ${name}`);
    const { text, params } = bind(snippet, vars);
    return sql<R>(db(), text, params);
  };
  const ids = (rows: { change_id: string | number }[]) => rows.map((r) => String(r.change_id));
  const now = () => new Date(Date.now() + 60_000).toISOString();

  beforeAll(async () => {
    fx = await loadExploreFixture(db());
  });

  it('has the eight questions, and every snippet runs with its own example values', async () => {
    expect([...all.keys()]).toEqual([
      'row-history',
      'row-as-of',
      'actor-window',
      'correlation-bundle',
      'export-parity',
      'action-capture',
      'transaction-drill-down',
      'request-bundle',
      'no-actor',
    ]);
    for (const name of all.keys()) await run(name);
  });

  it('1. row history in a window and as of an instant', async () => {
    const window = { from: fx.marks.afterInsert, to: fx.marks.afterPublish };
    const rows = await run<{ change_id: string }>('row-history', window);
    const page = await fx.tl.history('posts', 42, window);
    expect(ids(rows)).toEqual(page.entries.map((e) => e.id));
    expect(rows).toHaveLength(2);
    const cli = await runCli(['history', 'posts', '42', '--from', window.from, '--to', window.to, '--json'], {
      env: { DATABASE_URL: db().url },
    });
    expect(JSON.parse(cli.stdout).entries.map((e: { id: string }) => e.id)).toEqual(ids(rows));

    const found = await run<{ row_then: unknown }>('row-as-of', { at: fx.marks.afterUpdate });
    const asOf = await fx.tl.asOf('posts', 42, fx.marks.afterUpdate);
    expect(asOf.status).toBe('found');
    expect(found[0]!.row_then).toEqual(asOf.status === 'found' ? asOf.row : null);
    const deleted = await run<{ op: string; last_row_before_delete: unknown }>('row-as-of', {
      at: fx.marks.afterDelete,
    });
    const gone = await fx.tl.asOf('posts', 42, fx.marks.afterDelete);
    expect(deleted[0]!.op).toBe('delete');
    expect(deleted[0]!.last_row_before_delete).toEqual(gone.status === 'deleted' ? gone.lastRow : 'x');
    expect(await run('row-as-of', { at: fx.marks.start })).toEqual([]);
  });

  it('2. actor window', async () => {
    const vars = { actor: '{"type": "user", "id": "bob"}', from: fx.marks.start, to: now() };
    const rows = await run<{ change_id: string }>('actor-window', vars);
    const api = await fx.tl.actorHistory('user:bob', { from: vars.from, to: vars.to });
    expect(ids(rows)).toEqual(api.entries.map((e) => e.id));
    expect(rows.length).toBe(3);
  });

  it('3. correlation bundle (transaction or linked action)', async () => {
    for (const correlationId of ['corr-b', 'corr-action', 'corr-tags', 'nope']) {
      const rows = await run<{ change_id: string }>('correlation-bundle', { correlation_id: correlationId });
      const api = await fx.tl.timeline({ correlationId });
      expect(ids(rows), correlationId).toEqual(api.entries.map((e) => e.id));
    }
    expect(await run('correlation-bundle', { correlation_id: 'corr-action' })).toHaveLength(1);
  });

  it('4. export parity: the SQL count equals the timeline walked to the end', async () => {
    const vars = { table_schema: 'public', table_name: 'posts', from: fx.marks.start, to: now() };
    const [count] = await run<{ changes: string; transactions: string }>('export-parity', vars);
    let walked = 0;
    let cursor: string | null = null;
    do {
      const page = await fx.tl.timeline(
        { table: 'posts', from: vars.from, to: vars.to },
        { pageSize: 3, cursor },
      );
      walked += page.entries.length;
      cursor = page.cursor;
    } while (cursor);
    expect(Number(count!.changes)).toBe(walked);
    expect(walked).toBe(4);
    expect(Number(count!.transactions)).toBe(4);
  });

  it('5. action ↔ capture', async () => {
    const rows = await run<{ change_id: string; name: string; reason: string }>('action-capture');
    const bundle = await fx.tl.auditTransaction(fx.publishTx);
    expect(ids(rows)).toEqual(bundle!.changes.map((c) => c.change.id));
    expect(rows[0]).toMatchObject({ name: 'post.published', reason: 'editor approved' });
    expect(bundle!.action?.name).toBe('post.published');
  });

  it('6. single-transaction drill-down', async () => {
    const rows = await run<{ change_id: string; actions: unknown; actor_ref: unknown; request_id: string }>(
      'transaction-drill-down',
      { transaction_id: fx.publishTx },
    );
    const bundle = await fx.tl.auditTransaction(fx.publishTx);
    expect(ids(rows)).toEqual(bundle!.changes.map((c) => c.change.id));
    expect(rows[0]).toMatchObject({
      actor_ref: { type: 'user', id: 'alice' },
      request_id: 'req-7',
      actions: [{ name: 'post.published', reason: 'editor approved', status: 'ok' }],
    });
    expect(rows[0]!.actor_ref).toEqual(bundle!.transaction.actor);
  });

  it('7. one request end to end', async () => {
    const rows = await run<{ change_id: string }>('request-bundle', { request_id: 'req-7' });
    const api = await fx.tl.timeline({ requestId: 'req-7' });
    expect(ids(rows)).toEqual(api.entries.map((e) => e.id));
    expect(rows).toHaveLength(1);
    expect((await fx.tl.auditTransactions({ requestId: 'req-7' })).entries.map((t) => t.id)).toEqual([
      fx.publishTx,
    ]);
  });

  it('8. writes with no actor', async () => {
    const vars = { from: fx.marks.start, to: now() };
    const rows = await run<{ change_id: string; table_name: string }>('no-actor', vars);
    const api = await fx.tl.timeline({ actor: null, from: vars.from, to: vars.to });
    expect(ids(rows)).toEqual(api.entries.map((e) => e.id));
    expect(rows.map((r) => r.table_name)).toEqual(['legacy']);
  });
});
