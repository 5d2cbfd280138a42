import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '@threadline/core';
import { createTestDatabase, type TestDatabase } from '@threadline/test-utils';
import { nodeHandler } from '../src/node.js';
import type { OperatorSurfaceOptions } from '../src/options.js';
import { createOperatorSurface } from '../src/surface.js';

const HOSTILE = [
  '<script>window.__pwned = 1</script>',
  '"><img src=x onerror="window.__pwned=2">',
  'javascript:alert(1)',
  'evil\u202Etxt.exe',
  'ad\u200bmin',
  'x'.repeat(10_000),
];

export interface Fixture {
  db: TestDatabase;
  tl: Threadline;
  /** Audit transaction ids in the order the writes were made. */
  transactions: string[];
  close(): Promise<void>;
}

/** A database with two audited tables, writes by two actors and hostile values. */
export async function openFixture(): Promise<Fixture> {
  const db = await createTestDatabase('tl_operator');
  await db.pool.query(`
    create table posts (id int primary key, title text, status text, secret text);
    create table "Order Lines" (order_id int, line int, qty int, primary key (order_id, line));`);
  const tl = createThreadline({ db: db.pool, tables: { posts: { mask: ['secret'] } } });
  await tl.install();
  await tl.installTriggers({ tables: ['posts', 'Order Lines'] });
  const transactions: string[] = [];
  const write = async (actor: ActorRef, correlationId: string, sql: string, params: unknown[]) => {
    const { auditTransactionId } = await runWithAuditContext({ actor, correlationId }, () =>
      tl.transaction((tx) => tx.query(sql, params)),
    );
    transactions.push(auditTransactionId!);
  };
  for (let i = 1; i <= 60; i++) {
    await write(ActorRef.user(String(i % 3)), `req-${i}`, 'insert into posts values ($1, $2, $3, $4)', [
      i,
      `post ${i}`,
      'draft',
      `s${i}`,
    ]);
  }
  await write(
    ActorRef.user('alice'),
    'req-update',
    'update posts set status = $1, secret = $2 where id = 1',
    ['published', 'new-secret'],
  );
  await write(
    ActorRef.admin('root'),
    'req-lines',
    'insert into "Order Lines" values (7, 1, 3), (7, 2, 5)',
    [],
  );
  for (const [i, text] of HOSTILE.entries()) {
    await write(ActorRef.user(`h${i}`), `hostile-${i}`, 'insert into posts values ($1, $2, $3, null)', [
      1000 + i,
      text,
      text.slice(0, 200),
    ]);
  }
  await write(ActorRef.user('alice'), 'req-delete', 'delete from posts where id = 2', []);
  return {
    db,
    tl,
    transactions,
    close: () => db.drop(),
  };
}

/** Serve a surface over real HTTP on 127.0.0.1 (for the browser). */
export async function serve<R>(
  options: OperatorSurfaceOptions<R>,
  prefix = '',
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const handler = nodeHandler(createOperatorSurface(options) as never);
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
