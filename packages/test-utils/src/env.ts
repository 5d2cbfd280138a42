/** Where the real services are. Override with TL_PG_URL / TL_REDIS_URL. */
export const PG_URL = process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TL_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Under CI=true a missing service fails the run instead of skipping tests. */
export const REQUIRE_SERVICES = process.env.CI === 'true' || process.env.CI === '1';

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
