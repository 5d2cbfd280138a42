import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Param,
  ParseIntPipe,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { InvoicesService } from './invoices.service.js';
import { UserGuard } from './user.guard.js';

@Controller('invoices')
@UseGuards(UserGuard)
export class InvoicesController {
  constructor(private readonly invoices: InvoicesService) {}

  @Get()
  list(@Headers('x-user-id') userId: string, @Query('orderId') orderId?: string) {
    return this.invoices.list(userId, orderId === undefined ? undefined : Number(orderId));
  }

  @Post()
  create(@Headers('x-user-id') userId: string, @Body() body: { orderId?: unknown; amountCents?: unknown }) {
    const { orderId, amountCents } = body ?? {};
    if (!Number.isInteger(orderId) || !Number.isInteger(amountCents))
      throw new BadRequestException('send { orderId, amountCents }');
    return this.invoices.create(userId, orderId as number, amountCents as number);
  }

  @Post(':id/pay')
  @HttpCode(200)
  pay(
    @Headers('x-user-id') userId: string,
    @Param('id', ParseIntPipe) id: number,
    @Body() body: { cardToken?: unknown },
  ) {
    if (typeof body?.cardToken !== 'string') throw new BadRequestException('send { cardToken }');
    return this.invoices.pay(userId, id, body.cardToken);
  }
}
