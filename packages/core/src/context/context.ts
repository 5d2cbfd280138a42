import { AsyncLocalStorage } from 'node:async_hooks';
import { ThreadlineError } from '../errors.js';
import { guardRead } from '../plain-input.js';
import { ActorRef } from './actor-ref.js';
import { cleanId, ID_RULE } from './id-rule.js';
import { jsonbTextBytes } from './meta-size.js';

/** Why and on whose behalf the current work happens. Every field is optional. */
export interface AuditContext {
  actor?: ActorRef | undefined;
  correlationId?: string | undefined;
  requestId?: string | undefined;
  jobId?: string | undefined;
  /** The request or job that caused this work (for a job: the request or parent job that enqueued it). */
  causationId?: string | undefined;
  /** Where the work came from, e.g. "http", "bullmq", "cli". */
  source?: string | undefined;
  /** Small JSON-safe extra facts (remote address, route). Stored on the audit transaction. */
  meta?: Record<string, unknown> | undefined;
}

const MAX_META_BYTES = 8192;
const ID_FIELDS = ['correlationId', 'requestId', 'jobId', 'causationId', 'source'] as const;
const KNOWN_FIELDS = new Set<string>(['actor', ...ID_FIELDS, 'meta']);

interface ContextStore {
  readonly storage: AsyncLocalStorage<AuditContext>;
}

// One store per process, shared by every copy of @threadline/core that gets loaded.
const GLOBAL_KEY = Symbol.for('threadline.audit-context');
const holder = globalThis as unknown as Record<symbol, ContextStore | undefined>;
const store: ContextStore = holder[GLOBAL_KEY] ?? { storage: new AsyncLocalStorage<AuditContext>() };
holder[GLOBAL_KEY] = store;

/**
 * Normalize an id-like context value by the id rule (id-rule.ts): U+0020 trimmed from the ends,
 * undefined when it is not a string, empty, over-long or holds a control, format, invisible or
 * non-U+0020 space character. Used for values that arrive from the outside (headers, job data),
 * where a bad value is ignored rather than fatal.
 */
export function cleanContextId(value: unknown): string | undefined {
  return typeof value === 'string' ? cleanId(value) : undefined;
}

/** Validate a context given by application code; throws ThreadlineError('INVALID_CONTEXT') naming the fix. */
export function validateAuditContext(ctx: unknown): AuditContext {
  return guardRead('audit context', 'INVALID_CONTEXT', () => checkedAuditContext(ctx));
}

function checkedAuditContext(ctx: unknown): AuditContext {
  if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)) {
    throw new ThreadlineError(
      'INVALID_CONTEXT',
      'audit context must be an object like { actor, correlationId }',
    );
  }
  const input = ctx as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!KNOWN_FIELDS.has(key)) {
      throw new ThreadlineError(
        'INVALID_CONTEXT',
        `audit context: unknown key "${key.slice(0, 40)}"; known keys are ${[...KNOWN_FIELDS].join(', ')} (put other facts in meta)`,
      );
    }
  }
  const out: AuditContext = {};
  if (input.actor !== undefined && input.actor !== null) out.actor = ActorRef.parse(input.actor);
  for (const field of ID_FIELDS) {
    const raw = input[field];
    if (raw === undefined || raw === null) continue;
    // A number is an id only when finite (NaN and Infinity would be stored as words), as for actors.
    const value = typeof raw === 'number' ? (Number.isFinite(raw) ? String(raw) : undefined) : raw;
    const clean = cleanContextId(value);
    if (clean === undefined) {
      throw new ThreadlineError(
        'INVALID_CONTEXT',
        `audit context: ${field} must be ${ID_RULE} (no lone UTF-16 surrogate either): such an id could read like another in an audit trail`,
      );
    }
    out[field] = clean;
  }
  if (input.meta !== undefined && input.meta !== null) {
    if (typeof input.meta !== 'object' || Array.isArray(input.meta)) {
      throw new ThreadlineError('INVALID_CONTEXT', 'audit context: meta must be a plain object');
    }
    const flat = flatMetaCopy(input.meta as Record<string, unknown>);
    if (flat) out.meta = flat;
    else out.meta = jsonMetaCopy(input.meta);
  }
  return out;
}

/**
 * True for text PostgreSQL's jsonb cannot hold: a NUL character or a lone UTF-16 surrogate. The
 * database would drop the whole meta object at capture (recording an error instead), so a meta
 * holding such text is refused when the context is set.
 */
const LONE_SURROGATE = /\p{Cs}/u;
function unstorableText(text: string): boolean {
  return text.includes('\u0000') || LONE_SURROGATE.test(text);
}

function refuseUnstorableMeta(): never {
  throw new ThreadlineError(
    'INVALID_CONTEXT',
    'audit context: meta keys and string values must not contain NUL characters or lone UTF-16 surrogates (PostgreSQL cannot store them in jsonb)',
  );
}

/**
 * The JSON round trip: any JSON-serializable meta whose jsonb text (what the database measures,
 * see meta-size.ts) is at most MAX_META_BYTES.
 */
function jsonMetaCopy(meta: unknown): Record<string, unknown> {
  let json: string;
  try {
    json = JSON.stringify(meta);
  } catch (cause) {
    throw new ThreadlineError('INVALID_CONTEXT', 'audit context: meta must be JSON-serializable', {
      cause,
    });
  }
  // The jsonb text is never shorter than the JSON (it adds spaces, writes numbers out in full).
  if (Buffer.byteLength(json, 'utf8') > MAX_META_BYTES) refuseLargeMeta();
  const copy = JSON.parse(json, (key, value) => {
    if (unstorableText(key) || (typeof value === 'string' && unstorableText(value))) refuseUnstorableMeta();
    return value;
  }) as Record<string, unknown>;
  if (jsonbTextBytes(copy) > MAX_META_BYTES) refuseLargeMeta();
  return copy;
}

function refuseLargeMeta(): never {
  throw new ThreadlineError(
    'INVALID_CONTEXT',
    `audit context: meta is larger than ${MAX_META_BYTES} bytes as PostgreSQL stores it (jsonb text: a space after every ':' and ',', numbers written out without exponent); keep it to a few small facts`,
  );
}

/**
 * What JSON.parse(JSON.stringify(meta)) returns, without the round trip, for the usual meta: a
 * plain object of strings, finite numbers, booleans and nulls whose jsonb text is certainly within
 * MAX_META_BYTES (at most 6 bytes per UTF-16 unit of text, numbers as numeric prints them).
 * Undefined for anything else (the caller then takes the JSON path, which measures exactly).
 */
function flatMetaCopy(meta: Record<string, unknown>): Record<string, unknown> | undefined {
  const proto = Object.getPrototypeOf(meta);
  if ((proto !== Object.prototype && proto !== null) || typeof meta.toJSON === 'function') return undefined;
  const copy: Record<string, unknown> = {};
  let bound = 2;
  for (const key of Object.keys(meta)) {
    if (key === '__proto__') return undefined;
    const value = meta[key];
    if (value === undefined) continue; // JSON drops it
    if (unstorableText(key)) refuseUnstorableMeta();
    if (typeof value === 'string') {
      if (unstorableText(value)) refuseUnstorableMeta();
      bound += 6 * value.length + 2;
    } else if (typeof value === 'number' && Number.isFinite(value)) bound += jsonbTextBytes(value);
    else if (typeof value === 'boolean' || value === null) bound += 5;
    else return undefined;
    // "key": value, (quotes, then ': ' and ', ' as jsonb prints them)
    bound += 6 * key.length + 6;
    // -0 becomes 0 in JSON.
    copy[key] = value === 0 ? 0 : value;
  }
  return bound <= MAX_META_BYTES ? copy : undefined;
}

/**
 * Run `fn` with `ctx` as the audit context. Every transaction Threadline (or an adapter) opens
 * inside `fn` binds it. Nested calls start from a copy of the outer context and override it.
 */
export function runWithAuditContext<T>(ctx: AuditContext, fn: () => T): T {
  const outer = store.storage.getStore();
  const merged = { ...(outer ?? {}), ...stripUndefined(validateAuditContext(ctx)) };
  return store.storage.run(merged, fn);
}

/**
 * Run `fn` with exactly `ctx` as the audit context, ignoring any outer one. For work that is its
 * own unit (a queued job, a message) and must not inherit whatever context happened to be active
 * where its worker was started.
 */
export function runWithFreshAuditContext<T>(ctx: AuditContext, fn: () => T): T {
  return store.storage.run(stripUndefined(validateAuditContext(ctx)), fn);
}

/** The active audit context, or undefined outside any. The object is live: see setAuditActor. */
export function getAuditContext(): Readonly<AuditContext> | undefined {
  return store.storage.getStore();
}

/**
 * Set the actor of the active context, e.g. from a guard that authenticates after the
 * request middleware opened the context. Throws when no context is active.
 */
export function setAuditActor(actor: ActorRef | null | undefined): void {
  const current = store.storage.getStore();
  if (!current) {
    throw new ThreadlineError(
      'INVALID_CONTEXT',
      'setAuditActor: no audit context is active; mount a Threadline request middleware or wrap the work in runWithAuditContext()',
    );
  }
  if (actor === null || actor === undefined) {
    delete current.actor;
    return;
  }
  current.actor = ActorRef.parse(actor);
}

/** Update fields of the active context in place (same rules as setAuditActor). */
export function updateAuditContext(patch: AuditContext): void {
  const current = store.storage.getStore();
  if (!current) {
    throw new ThreadlineError(
      'INVALID_CONTEXT',
      'updateAuditContext: no audit context is active; wrap the work in runWithAuditContext()',
    );
  }
  Object.assign(current, stripUndefined(validateAuditContext(patch)));
}

function stripUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}
