import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { postgresAvailable } from '@threadline/test-utils';

/** Decide once whether the real PostgreSQL is there (under CI=true it must be). No PGlite needed here. */
export default async function setup(): Promise<() => void> {
  process.env.TL_PG_AVAILABLE = (await postgresAvailable()) ? '1' : '0';
  const scratch = join(import.meta.dirname, '..', '.tl-tmp');
  return () => rmSync(scratch, { recursive: true, force: true });
}
