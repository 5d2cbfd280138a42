import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type DynamicModule,
  Inject,
  Injectable,
  type MiddlewareConsumer,
  Module,
  type NestMiddleware,
  type NestModule,
} from '@nestjs/common';
import {
  createOperatorSurface,
  type NodeHandler,
  nodeHandler,
  type OperatorSurfaceOptions,
} from '@threadline/operator';

const OPERATOR_OPTIONS: unique symbol = Symbol.for('@threadline/nestjs:operator');

export interface ThreadlineOperatorModuleOptions<TRequest extends IncomingMessage = IncomingMessage>
  extends Omit<OperatorSurfaceOptions<TRequest>, 'basePath'> {
  /** Where the surface is served, e.g. "/audit". */
  path: string;
}

interface Resolved {
  path: string;
  handler: NodeHandler;
}

@Injectable()
class OperatorMiddleware implements NestMiddleware<IncomingMessage, ServerResponse> {
  constructor(@Inject(OPERATOR_OPTIONS) private readonly resolved: Resolved) {}

  use(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    this.resolved.handler(req, res, next);
  }
}

/**
 * Mounts the operator surface at `path`: `ThreadlineOperatorModule.forRoot({ threadline,
 * authorize: (req) => ..., path: '/audit' })`. `authorize` gets the platform's request
 * (Express's `req` on @nestjs/platform-express).
 */
@Module({})
export class ThreadlineOperatorModule implements NestModule {
  constructor(@Inject(OPERATOR_OPTIONS) private readonly resolved: Resolved) {}

  static forRoot<TRequest extends IncomingMessage = IncomingMessage>(
    options: ThreadlineOperatorModuleOptions<TRequest>,
  ): DynamicModule {
    const { path, ...rest } = options;
    const surface = createOperatorSurface({ ...rest, basePath: path } as OperatorSurfaceOptions<TRequest>);
    const resolved: Resolved = { path: surface.basePath || '/', handler: nodeHandler(surface) };
    return {
      module: ThreadlineOperatorModule,
      providers: [{ provide: OPERATOR_OPTIONS, useValue: resolved }, OperatorMiddleware],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    const base = this.resolved.path === '/' ? '' : this.resolved.path;
    consumer.apply(OperatorMiddleware).forRoutes(base || '/', `${base}/*path`);
  }
}
