/**
 * The bench app on NestJS (Express platform); the Threadline variant imports @threadline/nestjs's
 * ThreadlineModule. Injection uses explicit tokens (@Inject(DEPS)), so the app does not depend on
 * emitted decorator metadata (tsx does not emit it).
 */
import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BadRequestException,
  Body,
  Controller,
  type DynamicModule,
  Get,
  HttpCode,
  Inject,
  Injectable,
  type MiddlewareConsumer,
  Module,
  type NestMiddleware,
  type NestModule,
  Post,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AppDeps, floorStorage, ping, type RunningApp, recordFailure } from '../app.js';
import { ACTOR_HEADER } from '../protocol.js';
import { BadOrder, type Placed, parseOrder } from '../shop.js';

const DEPS = Symbol('bench app deps');

@Controller()
class ShopController {
  constructor(@Inject(DEPS) private readonly deps: AppDeps) {}

  @Get('ping')
  ping(): { ok: true } {
    return ping(this.deps);
  }

  @Post('orders')
  @HttpCode(200)
  async order(@Body() body: unknown): Promise<Placed> {
    const { deps } = this;
    let order: ReturnType<typeof parseOrder>;
    try {
      order = parseOrder(body);
    } catch (error) {
      if (error instanceof BadOrder) throw new BadRequestException(error.message);
      throw error;
    }
    try {
      const placed = await deps.placeOrder!(order);
      deps.counters.served++;
      return placed;
    } catch (error) {
      recordFailure(deps, error);
      throw error;
    }
  }
}

@Module({})
class ShopModule {}

/** The floor variant: a Nest middleware, mounted the way ThreadlineModule mounts its own. */
@Injectable()
class FloorMiddleware implements NestMiddleware<IncomingMessage> {
  use(req: IncomingMessage, _res: unknown, next: () => void): void {
    const value = req.headers[ACTOR_HEADER];
    floorStorage.run({ actor: typeof value === 'string' ? value : undefined }, next);
  }
}

@Module({})
class FloorModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(FloorMiddleware).forRoutes('*');
  }
}

export async function startNest(deps: AppDeps): Promise<RunningApp> {
  const imports: DynamicModule[] = [];
  if (deps.variant === 'threadline') {
    const { ThreadlineModule } = await import('@threadline/nestjs');
    const actor = deps.actorFromHeader!;
    imports.push(
      ThreadlineModule.forRoot({
        threadline: deps.threadline!,
        actor: (req: IncomingMessage) => {
          const value = req.headers[ACTOR_HEADER];
          return actor(typeof value === 'string' ? value : undefined);
        },
      }),
    );
  } else if (deps.variant === 'floor') {
    imports.push({ module: FloorModule });
  }
  const root: DynamicModule = {
    module: ShopModule,
    imports,
    controllers: [ShopController],
    providers: [{ provide: DEPS, useValue: deps }],
  };
  const app = await NestFactory.create(root, { logger: false });
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as { address(): AddressInfo };
  return { port: server.address().port, close: () => app.close() };
}
