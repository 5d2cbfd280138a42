import { createServer } from 'node:http';
import { PGlite } from '@electric-sql/pglite';
import { createThreadline } from '@threadline/core';
import { nodeHandler } from '@threadline/operator';
import pg from 'pg';
import { report } from './report.js';
import { runScenario } from './scenario.js';
import { APP_DDL, APP_SCHEMA, TABLES } from './schema.js';

const STORAGE = 'demo_audit';

/** Run the whole demo on `db` and return the printed report. */
export async function runDemo(
  db: pg.Pool | PGlite,
  log: (line: string) => void = () => undefined,
): Promise<string> {
  const reset = `drop schema if exists ${APP_SCHEMA} cascade; drop schema if exists ${STORAGE} cascade;`;
  if (db instanceof PGlite) await db.exec(reset + APP_DDL);
  else await db.query(reset + APP_DDL);
  const tl = createThreadline({ db, schema: STORAGE, tables: TABLES });
  log('installing the audit schema and capture triggers');
  const installed = await tl.install();
  const plans = await tl.installTriggers();
  for (const p of plans)
    log(`  ${p.table.schema}.${p.table.name}: key (${p.keyColumns.join(', ')}), ${p.mode} capture`);
  if (!installed.ddlSync) log('  (no DDL event trigger: portable capture mode)');
  log('writing as admin:alice and as the new user, in three transactions');
  await runScenario(tl);
  return report(tl);
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let db: pg.Pool | PGlite;
  if (url) {
    log(`Threadline demo on ${new URL(url).host} (schemas ${APP_SCHEMA} and ${STORAGE} are recreated)`);
    db = new pg.Pool({ connectionString: url, max: 4 });
  } else {
    log('Threadline demo on embedded PGlite (set DATABASE_URL to use a PostgreSQL server); starting it…');
    db = await PGlite.create();
  }
  const serveIt = process.argv.includes('--serve');
  try {
    const text = await runDemo(db, log);
    process.stdout.write(`\n${text}\n\n`);
    log(
      'Masked: users.email. Never stored: users.password_hash. Ignored for change detection: users.last_seen_at.',
    );
    if (serveIt) await serveSurface(db, log);
  } finally {
    if (db instanceof PGlite) await db.close();
    else await db.end();
  }
}

/**
 * `npm run demo -- --serve`: the operator surface on the demo database, until Ctrl-C. It runs
 * without authorization (allowUnauthenticated) only because it listens on 127.0.0.1.
 */
async function serveSurface(db: pg.Pool | PGlite, log: (line: string) => void): Promise<void> {
  const tl = createThreadline({ db, schema: STORAGE, tables: TABLES });
  const server = createServer(
    nodeHandler({ threadline: tl, allowUnauthenticated: true, basePath: '/audit' }),
  );
  const port = Number(process.env.PORT ?? 4318);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  log(`\nOperator surface: http://127.0.0.1:${port}/audit/`);
  log('Served without sign-in (allowUnauthenticated) because it listens on 127.0.0.1 only. Ctrl-C stops it.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  main().catch((error) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
