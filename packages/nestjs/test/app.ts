import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import {
  type ArgumentsHost,
  Body,
  type CanActivate,
  Catch,
  Controller,
  type DynamicModule,
  type ExceptionFilter,
  type ExecutionContext,
  HttpCode,
  HttpException,
  Inject,
  Injectable,
  Module,
  Post,
  type Type,
  UseGuards,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
// A value import, so that design:paramtypes names the class Nest injects.
import type { RequestAdapterHarness } from '@threadline/conformance';
import { ActorRef, setAuditActor, Threadline } from '@threadline/core';
import type { Request, Response } from 'express';
import { InjectThreadline, ThreadlineModule } from '../src/index.js';

const TABLE = 'TEST_TABLE';

interface ItemBody {
  id: number;
  note?: string;
  actor?: string;
}

/** The conformance actor callback, typed with Express's own Request. */
export const testActor = async (req: Request) => {
  if (req.get('x-test-actor-throw')) throw new Error('actor lookup failed');
  const id = req.get('x-test-actor');
  return id ? ActorRef.user(id) : undefined;
};

/** An auth guard that names the actor after the middleware opened the context. */
@Injectable()
class LateActorGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const { body } = context.switchToHttp().getRequest<{ body: ItemBody }>();
    if (body.actor) setAuditActor(ActorRef.user(body.actor));
    return true;
  }
}

/** Injected by class: relies on design:paramtypes emitted for this test file. */
@Injectable()
class ItemsService {
  constructor(
    private readonly tl: Threadline,
    @Inject(TABLE) private readonly table: string,
  ) {}

  insert(tx: { query(sql: string, params: unknown[]): Promise<unknown> }, body: ItemBody) {
    return tx.query(`insert into ${this.table} (id, note) values ($1, $2)`, [body.id, body.note ?? null]);
  }

  async create(body: ItemBody) {
    const { auditTransactionId } = await this.tl.transaction((tx) => this.insert(tx, body));
    return { auditTransactionId };
  }
}

@Controller('items')
class ItemsController {
  constructor(
    private readonly items: ItemsService,
    @InjectThreadline() private readonly tl: Threadline,
  ) {}

  @Post()
  @HttpCode(200)
  create(@Body() body: ItemBody) {
    return this.items.create(body);
  }

  @Post('fail')
  async fail(@Body() body: ItemBody) {
    await this.tl.transaction(async (tx) => {
      await this.items.insert(tx, body);
      throw new Error('handler failed');
    });
  }

  @Post('autocommit')
  @HttpCode(200)
  async autocommit(@Body() body: ItemBody) {
    await this.items.insert(this.tl, body);
    return { ok: true };
  }

  @Post('late-actor')
  @HttpCode(200)
  @UseGuards(LateActorGuard)
  lateActor(@Body() body: ItemBody) {
    return this.items.create(body);
  }
}

/** The conformance routes; `imports` holds ThreadlineModule.forRoot(...) or forRootAsync(...). */
export function itemsModule(table: string, ...imports: (DynamicModule | Type)[]) {
  @Module({
    imports,
    controllers: [ItemsController],
    providers: [ItemsService, LateActorGuard, { provide: TABLE, useValue: table }],
  })
  class ItemsModule {}
  return ItemsModule;
}

/**
 * The conformance contract's error answer: an error no route handles answers 500 with its name,
 * `code` and message (Nest's own answer hides the driver's error); HTTP exceptions pass as Nest
 * answers them.
 */
@Catch()
class DriverErrorFilter implements ExceptionFilter {
  catch(error: Error & { code?: string }, host: ArgumentsHost) {
    const res = host.switchToHttp().getResponse<Response>();
    if (error instanceof HttpException) res.status(error.getStatus()).json(error.getResponse());
    else res.status(500).json({ error: error.name, code: error.code, message: error.message });
  }
}

export async function listen(module: unknown, filters: ExceptionFilter[] = []) {
  const app = await NestFactory.create(module as never, { logger: false, abortOnError: false });
  if (filters.length) app.useGlobalFilters(...filters);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

function conformanceApp(tl: Threadline, table: string) {
  return listen(itemsModule(table, ThreadlineModule.forRoot({ threadline: tl, actor: testActor })), [
    new DriverErrorFilter(),
  ]);
}

export const nestHarness: RequestAdapterHarness = {
  name: '@threadline/nestjs (Express platform)',
  start: ({ tl, table }) => conformanceApp(tl, table),
};
