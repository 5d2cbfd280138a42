/**
 * Migration bookkeeping tables that the tools our users run create. They hold no business data,
 * so they are expected to be uncovered (source `baseline`), in whichever schema they are found.
 * `health.auditAnyway` takes one off the list.
 */
export const BASELINE_UNCOVERED_TABLES: readonly { table: string; tool: string }[] = [
  { table: 'knex_migrations', tool: 'knex' },
  { table: 'knex_migrations_lock', tool: 'knex' },
  { table: 'migrations', tool: 'TypeORM' },
  { table: 'typeorm_metadata', tool: 'TypeORM' },
  { table: '_prisma_migrations', tool: 'Prisma' },
  { table: '__drizzle_migrations', tool: 'Drizzle' },
  { table: 'pgmigrations', tool: 'node-pg-migrate' },
  { table: 'schema_migrations', tool: 'Rails-style migrators' },
  { table: 'ar_internal_metadata', tool: 'Rails' },
];

const NAMES = new Set(BASELINE_UNCOVERED_TABLES.map((t) => t.table));

export function isBaselineUncovered(name: string): boolean {
  return NAMES.has(name);
}
