import { randomUUID } from 'node:crypto';
import {
  ActorRef,
  type ActorResolver,
  type AuditContext,
  checkActorResolver,
  checkContextSource,
  readSetupOptions,
  resolveActor,
  runWithFreshAuditContext,
  ThreadlineError,
} from '@threadline/core/adapter';

/** `A`, `C`: the leading method parameters the `actor` and `context` callbacks take (inferred). */
export interface WithAuditContextOptions<A extends unknown[] = [], C extends unknown[] = A> {
  /**
   * Names the actor from the method's arguments; may be async (the method then returns a Promise).
   * Default (also when it returns nothing): ActorRef.system('Class.method'). Throwing fails the call
   * with ThreadlineError('CALLBACK_FAILED') and the method does not run.
   */
  actor?: ActorResolver<A>;
  /**
   * More context from the arguments, e.g. `(job: Job) => ({ jobId: job.id })`, or a whole job's
   * context from core's `jobAuditContext()`. An `actor` it returns is used when the `actor`
   * callback gives none; its `source` is replaced by this decorator's.
   */
  context?: (...args: C) => AuditContext;
  /** The `source` recorded on audit transactions. Default "nestjs". */
  source?: string;
}

// reflect-metadata's API, if the app loaded it (every Nest app does); typed here so this package needs no import.
const metadata = Reflect as unknown as {
  getOwnMetadataKeys?(target: object): unknown[];
  getOwnMetadata(key: unknown, target: object): unknown;
  defineMetadata(key: unknown, value: unknown, target: object): void;
};

/**
 * Method decorator for entry points that are not HTTP requests (queue consumers, scheduled methods,
 * gateways): every call runs in a fresh audit context (nothing is inherited from a context active
 * where it was called) with source "nestjs", a new correlation id, meta.handler "Class.method" and
 * the actor from `options.actor`. Metadata that other decorators stored on the method (@Cron,
 * @OnWorkerEvent, @SubscribeMessage...) is kept, whichever order the decorators are written in.
 */
export function WithAuditContext<A extends unknown[] = [], C extends unknown[] = []>(
  input: WithAuditContextOptions<A, C> = {},
) {
  const options: WithAuditContextOptions<A, C> = readSetupOptions(input, '@WithAuditContext()');
  checkActorResolver(options.actor, '@WithAuditContext()');
  if (options.context !== undefined && typeof options.context !== 'function')
    throw new ThreadlineError('CONFIG_INVALID', '@WithAuditContext(): context must be a function');
  const source = checkContextSource(options.source ?? 'nestjs', '@WithAuditContext()');
  // P (the method's parameters) must start with what the callbacks accept, so their types are checked.
  return <P extends [...A, ...unknown[]] & [...C, ...unknown[]], R>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<(...args: P) => R>,
  ): TypedPropertyDescriptor<(...args: P) => R> => {
    const original = descriptor.value as unknown;
    const owner = typeof target === 'function' ? target.name : target.constructor.name;
    const handler = `${owner}.${String(key)}`;
    if (typeof original !== 'function') {
      throw new ThreadlineError('CONFIG_INVALID', `@WithAuditContext() on ${handler}: decorate a method`);
    }
    const where = `@WithAuditContext() on ${handler}`;
    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      const extra = options.context?.(...(args as C)) ?? {};
      const run = (actor: ActorRef | undefined) =>
        runWithFreshAuditContext(
          {
            ...extra,
            correlationId: extra.correlationId ?? randomUUID(),
            meta: { handler, ...extra.meta },
            source,
            actor: actor ?? extra.actor ?? ActorRef.system(handler),
          },
          () => original.apply(this, args),
        );
      if (!options.actor) return run(undefined);
      return resolveActor(options.actor, where, ...(args as A)).then(run);
    };
    copyMetadata(original, wrapper);
    Object.defineProperty(wrapper, 'name', { value: original.name });
    Object.defineProperty(wrapper, 'length', { value: original.length });
    descriptor.value = wrapper as unknown as (...args: P) => R;
    return descriptor;
  };
}

function copyMetadata(from: object, to: object): void {
  for (const key of metadata.getOwnMetadataKeys?.(from) ?? []) {
    metadata.defineMetadata(key, metadata.getOwnMetadata(key, from), to);
  }
}
