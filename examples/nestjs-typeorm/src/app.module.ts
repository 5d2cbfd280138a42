import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ThreadlineModule } from '@threadline/nestjs';
import { attachThreadline } from '@threadline/typeorm';
import { DataSource } from 'typeorm';
import { Invoice, Payment } from './billing.entities.js';
import { BillingSchema } from './billing.schema.js';
import { InvoicesController } from './invoices.controller.js';
import { InvoicesService } from './invoices.service.js';
import { databaseUrl, threadline } from './threadline.js';

@Module({
  imports: [
    // One audit context per HTTP request (UserGuard names the actor); injectable as @InjectThreadline().
    ThreadlineModule.forRoot({ threadline, source: 'billing' }),
    TypeOrmModule.forRootAsync({
      // DATABASE_POOL_MAX: the pool's size (node-postgres' default, 10, when unset).
      useFactory: () => ({
        type: 'postgres',
        url: databaseUrl,
        entities: [Invoice, Payment],
        poolSize: Number(process.env.DATABASE_POOL_MAX) || 10,
      }),
      // Attached before it connects: every TypeORM transaction binds the current audit context.
      dataSourceFactory: async (options) => attachThreadline(new DataSource(options!), { threadline }),
    }),
    TypeOrmModule.forFeature([Invoice, Payment]),
  ],
  controllers: [InvoicesController],
  providers: [InvoicesService, BillingSchema],
})
export class AppModule {}
