import { ThreadlineError } from '../errors.js';
import { isDate } from '../plain-input.js';
import { safeText } from '../safe-text.js';

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|([+-])(\d{2})(?::?(\d{2}))?)?)?$/i;

/** An instant PostgreSQL accepts as timestamptz, as text with an explicit zone and its UTC microseconds. */
export interface Instant {
  /** ISO 8601 with an explicit zone, microseconds kept: what is bound as `$n::timestamptz`. */
  text: string;
  /** Microseconds since 1970-01-01T00:00:00Z, for exact comparisons. */
  micros: bigint;
}

const daysIn = (year: number, month: number) =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : [4, 6, 9, 11].includes(month)
      ? 30
      : 31;

const invalid = (message: string) => new ThreadlineError('QUERY_INVALID', message);

/**
 * A Date or an ISO 8601 string → an Instant. A string without a zone is UTC, a date alone is
 * midnight UTC. Every field is checked the way PostgreSQL checks it (years 0001–9999, real
 * calendar days, hours 00–23 or 24:00:00, zone offsets up to ±15:59), so a value either means
 * exactly one instant here and in the database or is refused.
 */
export function toInstant(value: unknown, what: string): Instant {
  if (isDate(value)) {
    if (Number.isNaN(value.getTime())) throw invalid(`${what} is an invalid Date`);
    return toInstant(value.toISOString(), what);
  }
  const text = typeof value === 'string' ? value.trim() : '';
  const m = ISO.exec(text);
  if (!m) {
    throw invalid(
      `${what} must be a Date or an ISO 8601 timestamp like 2026-11-28T14:00:00Z, got ${JSON.stringify(safeText(value).slice(0, 40))}`,
    );
  }
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone, sign, oh = '00', om = '00'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const [hour, minute, second] = [Number(h), Number(mi), Number(s)];
  const bad = (why: string) => invalid(`${what} is not a valid timestamp (${why}): ${JSON.stringify(text)}`);
  if (year < 1) throw bad('years run from 0001 to 9999');
  if (month < 1 || month > 12) throw bad('months run from 01 to 12');
  if (day < 1 || day > daysIn(year, month)) throw bad(`${y}-${mo} has ${daysIn(year, month)} days`);
  const midnightNext = hour === 24 && minute === 0 && second === 0 && /^0*$/.test(frac);
  if (hour > 23 && !midnightNext) throw bad('hours run from 00 to 23');
  if (minute > 59 || second > 59) throw bad('minutes and seconds run from 00 to 59');
  if (Number(oh) > 15 || Number(om) > 59) throw bad('zone offsets run from -15:59 to +15:59');
  const offsetMinutes =
    zone && zone.toUpperCase() !== 'Z' ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
  // setUTCFullYear, unlike Date.UTC, does not map the years 0–99 to 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const ms = date.getTime() - offsetMinutes * 60_000;
  const micros = BigInt(ms) * 1000n + BigInt(frac.padEnd(6, '0') || '0');
  const zoneText = zone ? (zone.toUpperCase() === 'Z' ? 'Z' : `${sign}${oh}:${om}`) : 'Z';
  const time = `${h}:${mi}:${s}${frac ? `.${frac}` : ''}`;
  return { text: `${y}-${mo}-${d}T${time}${zoneText}`, micros };
}
