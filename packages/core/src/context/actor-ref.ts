import { ThreadlineError } from '../errors.js';
import { guardRead } from '../plain-input.js';
import { safeText } from '../safe-text.js';
import { ID_RULE, trimSpaces, UNSAFE_ID_CHARACTERS } from './id-rule.js';

export const ACTOR_TYPES = ['user', 'admin', 'service_account', 'job', 'system', 'anonymous'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

/** Who acted. `id` is a non-empty string for every type except `anonymous`, which has none. */
export type ActorRef =
  | { readonly type: Exclude<ActorType, 'anonymous'>; readonly id: string }
  | { readonly type: 'anonymous' };

/** The longest actor id accepted, in bytes. Longer ids are almost always a bug (a token, a body). */
const MAX_ACTOR_ID_BYTES = 256;

function invalid(message: string, value: unknown): ThreadlineError {
  return new ThreadlineError('INVALID_ACTOR', message, { details: { received: describe(value) } });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function normalizeId(type: ActorType, id: unknown): string {
  if (typeof id === 'number') {
    if (!Number.isFinite(id))
      throw invalid(`ActorRef.${type}(id): id must be a finite number or a string`, id);
    id = String(id);
  } else if (typeof id === 'bigint') {
    id = id.toString();
  }
  if (typeof id !== 'string') {
    throw invalid(`ActorRef.${type}(id): id must be a string or number, got ${describe(id)}`, id);
  }
  // Only U+0020 is trimmed, as the database does (id-rule.ts): an NBSP at the end is refused below.
  const trimmed = trimSpaces(id);
  if (trimmed === '')
    throw invalid(
      `ActorRef.${type}(id): id must not be empty; use ActorRef.anonymous() when nobody is known`,
      id,
    );
  // A UTF-16 unit is at most 3 bytes of UTF-8: short ids need no byte count.
  if (trimmed.length * 3 > MAX_ACTOR_ID_BYTES && Buffer.byteLength(trimmed, 'utf8') > MAX_ACTOR_ID_BYTES) {
    throw invalid(
      `ActorRef.${type}(id): id is longer than ${MAX_ACTOR_ID_BYTES} bytes; pass a stable identifier, not a token or a document`,
      id,
    );
  }
  if (UNSAFE_ID_CHARACTERS.test(trimmed))
    throw invalid(
      `ActorRef.${type}(id): id must be ${ID_RULE} (no lone UTF-16 surrogate either): such an id could read like another in an audit trail`,
      id,
    );
  return trimmed;
}

// Every ActorRef this module built: frozen and validated, so parse() can return it as is. Adapters
// validate the same ref several times per request (callback result, then context).
const VALIDATED = new WeakSet<object>();

function frozen(ref: ActorRef): ActorRef {
  Object.freeze(ref);
  VALIDATED.add(ref);
  return ref;
}

function make(type: Exclude<ActorType, 'anonymous'>) {
  return (id: string | number | bigint): ActorRef => frozen({ type, id: normalizeId(type, id) });
}

const ANONYMOUS: ActorRef = frozen({ type: 'anonymous' });

export const ActorRef = {
  user: make('user'),
  admin: make('admin'),
  serviceAccount: make('service_account'),
  job: make('job'),
  system: make('system'),
  anonymous: (): ActorRef => ANONYMOUS,

  /** Build an ActorRef from a type name and id, validating both. */
  of(type: string, id?: unknown): ActorRef {
    if (!(ACTOR_TYPES as readonly string[]).includes(type)) {
      throw invalid(
        `ActorRef: unknown actor type "${safeText(type).slice(0, 40)}"; expected one of ${ACTOR_TYPES.join(', ')}`,
        type,
      );
    }
    if (type === 'anonymous') {
      if (id !== undefined && id !== null)
        throw invalid('ActorRef.of: an anonymous actor has no id; write "anonymous", not "anonymous:…"', id);
      return ANONYMOUS;
    }
    return frozen({
      type: type as Exclude<ActorType, 'anonymous'>,
      id: normalizeId(type as ActorType, id),
    });
  },

  /**
   * Validate an unknown value (parsed JSON, job data, a header) as an ActorRef.
   * Throws ThreadlineError('INVALID_ACTOR') naming what is wrong.
   */
  parse(value: unknown): ActorRef {
    if (typeof value === 'object' && value !== null && VALIDATED.has(value)) return value as ActorRef;
    return guardRead('ActorRef.parse: the actor', 'INVALID_ACTOR', () => parseActor(value));
  },

  /** Parse the CLI form `type:id` (for example `user:42`, `anonymous`). */
  fromString(text: string): ActorRef {
    if (typeof text !== 'string')
      throw invalid('ActorRef.fromString: expected a string like "user:42"', text);
    const trimmed = trimSpaces(text);
    if (trimmed === 'anonymous') return ANONYMOUS;
    const colon = trimmed.indexOf(':');
    if (colon <= 0)
      throw invalid(
        `ActorRef.fromString: expected "type:id" (for example "user:42"), got "${trimmed.slice(0, 60)}"`,
        text,
      );
    return ActorRef.of(trimmed.slice(0, colon), trimmed.slice(colon + 1));
  },

  /** `type:id` text form, the inverse of fromString. */
  format(actor: ActorRef): string {
    return actor.type === 'anonymous' ? 'anonymous' : `${actor.type}:${actor.id}`;
  },

  /** True when two refs name the same actor. */
  equals(a: ActorRef | null | undefined, b: ActorRef | null | undefined): boolean {
    if (!a || !b) return a === b;
    return a.type === b.type && (a.type === 'anonymous' || (b.type !== 'anonymous' && a.id === b.id));
  },

  /** JSON as stored in `actor_ref` and bound into `threadline.actor_ref`. */
  toJSON(actor: ActorRef): string {
    return actor.type === 'anonymous'
      ? '{"type":"anonymous"}'
      : JSON.stringify({ type: actor.type, id: actor.id });
  },
};

/** ActorRef.parse's checks, run under its guard (a value that cannot be read is INVALID_ACTOR). */
function parseActor(value: unknown): ActorRef {
  if (typeof value === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw invalid(
        'ActorRef.parse: the string is not JSON; expected {"type":"user","id":"42"} or "type:id" via ActorRef.fromString',
        value,
      );
    }
    return ActorRef.parse(parsed);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(
      `ActorRef.parse: expected an object like {"type":"user","id":"42"}, got ${describe(value)}`,
      value,
    );
  }
  const record = value as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => k !== 'type' && k !== 'id');
  if (extra.length > 0) {
    throw invalid(
      `ActorRef.parse: unexpected key(s) ${extra.slice(0, 5).join(', ')}; an ActorRef has only "type" and "id"`,
      value,
    );
  }
  if (typeof record.type !== 'string') throw invalid('ActorRef.parse: "type" must be a string', value);
  if (record.type === 'anonymous') {
    if (record.id !== undefined && record.id !== null)
      throw invalid('ActorRef.parse: an anonymous actor has no id', value);
    return ANONYMOUS;
  }
  if (record.id === undefined || record.id === null) {
    throw invalid(`ActorRef.parse: actor type "${record.type.slice(0, 40)}" needs an "id"`, value);
  }
  return ActorRef.of(record.type, record.id);
}
