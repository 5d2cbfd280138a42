import { existsSync, readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';

export const PGLITE_TEMPLATE_ENV = 'TL_PGLITE_TEMPLATE';

/** A fresh PGlite database, loaded from the template dump made once per test run when present. */
export async function createPglite(): Promise<PGlite> {
  const template = process.env[PGLITE_TEMPLATE_ENV];
  if (template && existsSync(template)) {
    return PGlite.create({ loadDataDir: new Blob([readFileSync(template)]) });
  }
  return PGlite.create();
}
