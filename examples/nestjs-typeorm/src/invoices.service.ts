import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Threadline } from '@threadline/core';
import { InjectThreadline } from '@threadline/nestjs';
import { DataSource, Repository } from 'typeorm';
import { Invoice, Payment } from './billing.entities.js';

@Injectable()
export class InvoicesService {
  constructor(
    @InjectRepository(Invoice) private readonly invoices: Repository<Invoice>,
    private readonly dataSource: DataSource,
    @InjectThreadline() private readonly tl: Threadline,
  ) {}

  list(customerId: string, orderId?: number): Promise<Invoice[]> {
    return this.invoices.findBy({ customerId, ...(orderId !== undefined && { orderId }) });
  }

  /** One invoice per order: a retried call gets the invoice the first one created. */
  async create(customerId: string, orderId: number, amountCents: number): Promise<Invoice> {
    const existing = await this.invoices.findOneBy({ orderId });
    // save() runs in a transaction of its own, bound to this request's audit context.
    return existing ?? this.invoices.save(this.invoices.create({ customerId, orderId, amountCents }));
  }

  /** The payment, the invoice's new status and an audit action, in one transaction. */
  pay(customerId: string, invoiceId: number, cardToken: string): Promise<Invoice> {
    return this.dataSource.transaction(async (manager) => {
      const invoice = await manager.findOne(Invoice, {
        where: { id: invoiceId, customerId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!invoice) throw new NotFoundException('no such invoice');
      if (invoice.status === 'paid') throw new ConflictException('invoice already paid');
      await manager.insert(Payment, { invoiceId, amountCents: invoice.amountCents, cardToken });
      await manager.update(Invoice, invoiceId, { status: 'paid' });
      // Recorded in this transaction and linked to its audit row (actor and ids from the context).
      await this.tl.recordAction('invoice.paid', { category: 'billing' });
      return { ...invoice, status: 'paid' };
    });
  }
}
