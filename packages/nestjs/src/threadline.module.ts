import type { IncomingMessage } from 'node:http';
import {
  type DynamicModule,
  Inject,
  Injectable,
  type InjectionToken,
  type MiddlewareConsumer,
  Module,
  type ModuleMetadata,
  type NestMiddleware,
  type NestModule,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import { Threadline } from '@threadline/core';
import {
  type ActorResolver,
  checkActorResolver,
  checkContextSource,
  readSetupOptions,
  runRequestInAuditContext,
  ThreadlineError,
} from '@threadline/core/adapter';

/** Injection token of the Threadline instance (the `Threadline` class is a token too). */
export const THREADLINE: unique symbol = Symbol.for('@threadline/nestjs:threadline');
/** Injection token of the resolved module options. */
export const THREADLINE_OPTIONS: unique symbol = Symbol.for('@threadline/nestjs:options');

/** Inject the Threadline instance given to ThreadlineModule. */
export const InjectThreadline = (): PropertyDecorator & ParameterDecorator => Inject(THREADLINE);

export interface ThreadlineModuleOptions<TRequest extends IncomingMessage = IncomingMessage> {
  /** The instance services use (`tl.transaction`, `tl.query`); provided as THREADLINE and Threadline. */
  threadline: Threadline;
  /**
   * Names the actor of an HTTP request; may be async. It runs in middleware, before guards: return
   * undefined when authentication happens later and call setAuditActor() there. Throwing (or
   * returning something that is not an ActorRef) fails the request with ThreadlineError('CALLBACK_FAILED').
   */
  actor?: ActorResolver<[req: TRequest]>;
  /** The `source` recorded on audit transactions of HTTP requests. Default "nestjs". */
  source?: string;
  /**
   * Record the client's address as the context's `meta.remoteAddress` (it travels in the binding
   * statement's parameters, which ORM query logging prints). Default true.
   */
  recordRemoteAddress?: boolean;
}

export interface ThreadlineModuleAsyncOptions<TRequest extends IncomingMessage = IncomingMessage>
  extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (
    ...args: never[]
  ) => ThreadlineModuleOptions<TRequest> | Promise<ThreadlineModuleOptions<TRequest>>;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
}

const WHERE = '@threadline/nestjs ThreadlineModule';

function checkOptions(input: ThreadlineModuleOptions): ThreadlineModuleOptions {
  const options = readSetupOptions(input, WHERE) as unknown as ThreadlineModuleOptions;
  if (typeof options.threadline?.transaction !== 'function') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE}: options.threadline must be a Threadline instance; pass { threadline: createThreadline({ db }) }`,
    );
  }
  checkContextSource(options.source ?? 'nestjs', WHERE);
  checkActorResolver(options.actor, WHERE);
  return options;
}

/** Opens one audit context per HTTP request; later middleware, guards, interceptors and handlers run in it. */
@Injectable()
class ThreadlineMiddleware implements NestMiddleware<IncomingMessage> {
  constructor(@Inject(THREADLINE_OPTIONS) private readonly options: ThreadlineModuleOptions) {}

  // Returning the promise lets Nest's exception layer (and the app's filters) answer a failed actor callback.
  use(req: IncomingMessage, _res: unknown, next: () => void): void | Promise<void> {
    // A method, not a named arrow constant: this package is built with keepNames (decorator
    // metadata), which would rename a named closure on every request.
    const info = {
      header(name: string) {
        const value = req.headers[name.toLowerCase()];
        return Array.isArray(value) ? value[0] : value;
      },
      // Express sets req.ip (honouring `trust proxy`); other platforms hand over the raw request.
      remoteAddress: (req as { ip?: string }).ip ?? req.socket?.remoteAddress,
      recordRemoteAddress: this.options.recordRemoteAddress,
      source: this.options.source ?? 'nestjs',
    };
    // Nest's middleware proxy awaits this inside its try: a failing actor callback is answered by
    // Nest's exception layer either way.
    return runRequestInAuditContext(info, this.options.actor, WHERE, req, next);
  }
}

function providers(optionsProvider: Provider): Provider[] {
  const threadline = (options: ThreadlineModuleOptions) => options.threadline;
  return [
    optionsProvider,
    { provide: THREADLINE, useFactory: threadline, inject: [THREADLINE_OPTIONS] },
    { provide: Threadline, useExisting: THREADLINE },
  ];
}

/**
 * Global module: provides the Threadline instance and mounts the request middleware on every route.
 * Non-HTTP entry points (queue consumers, cron, gateways) use @WithAuditContext() instead.
 */
@Module({})
export class ThreadlineModule implements NestModule {
  static forRoot<TRequest extends IncomingMessage = IncomingMessage>(
    options: ThreadlineModuleOptions<TRequest>,
  ): DynamicModule {
    const value = checkOptions(options as unknown as ThreadlineModuleOptions);
    return ThreadlineModule.build([], providers({ provide: THREADLINE_OPTIONS, useValue: value }));
  }

  static forRootAsync<TRequest extends IncomingMessage = IncomingMessage>(
    input: ThreadlineModuleAsyncOptions<TRequest>,
  ): DynamicModule {
    const options = readSetupOptions(
      input,
      `${WHERE}.forRootAsync`,
    ) as unknown as ThreadlineModuleAsyncOptions<TRequest>;
    if (typeof options.useFactory !== 'function')
      throw new ThreadlineError('CONFIG_INVALID', `${WHERE}.forRootAsync: useFactory must be a function`);
    const optionsProvider: Provider = {
      provide: THREADLINE_OPTIONS,
      useFactory: async (...args: never[]) =>
        checkOptions((await options.useFactory(...args)) as unknown as ThreadlineModuleOptions),
      inject: options.inject ?? [],
    };
    return ThreadlineModule.build(options.imports ?? [], providers(optionsProvider));
  }

  private static build(imports: ModuleMetadata['imports'], list: Provider[]): DynamicModule {
    return { global: true, module: ThreadlineModule, imports, providers: list, exports: list };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(ThreadlineMiddleware).forRoutes('*');
  }
}
