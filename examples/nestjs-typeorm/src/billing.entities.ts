import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ schema: 'billing', name: 'invoices' })
export class Invoice {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ name: 'order_id', type: 'int', unique: true }) orderId!: number;
  @Column({ name: 'customer_id', type: 'text' }) customerId!: string;
  @Column({ name: 'amount_cents', type: 'int' }) amountCents!: number;
  @Column({ type: 'text', default: 'open' }) status!: 'open' | 'paid';
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity({ schema: 'billing', name: 'payments' })
export class Payment {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ name: 'invoice_id', type: 'int' }) invoiceId!: number;
  @Column({ name: 'amount_cents', type: 'int' }) amountCents!: number;
  @Column({ name: 'card_token', type: 'text' }) cardToken!: string;
  @CreateDateColumn({ name: 'paid_at', type: 'timestamptz' }) paidAt!: Date;
}
