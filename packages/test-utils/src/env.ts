/** Where the real services are. Override with TL_PG_URL / TL_REDIS_URL. */
export const PG_URL = process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TL_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * True when `value` (an environment variable) says "CI": any non-empty value except `false` and
 * `0`, case-insensitive (`true`, `True`, `1`, `yes`, a CI system's name).
 */
export function isCiValue(value: string | undefined): boolean {
  const v = (value ?? '').trim().toLowerCase();
  return v !== '' && v !== 'false' && v !== '0';
}

/** Under CI a missing service fails the run instead of skipping tests. */
export const REQUIRE_SERVICES = isCiValue(process.env.CI);

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
