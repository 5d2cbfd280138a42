import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLITE_TEMPLATE_ENV } from './pglite.js';
import { postgresAvailable } from './postgres.js';

/** Vitest global setup: check services once and build the PGlite template dump. */
export default async function setup(): Promise<() => void> {
  process.env.TL_PG_AVAILABLE = (await postgresAvailable()) ? '1' : '0';
  const dir = mkdtempSync(join(tmpdir(), 'tl-pglite-'));
  const db = await PGlite.create();
  const dump = await db.dumpDataDir('none');
  await db.close();
  const file = join(dir, 'template.tar');
  writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  process.env[PGLITE_TEMPLATE_ENV] = file;
  return () => rmSync(dir, { recursive: true, force: true });
}
