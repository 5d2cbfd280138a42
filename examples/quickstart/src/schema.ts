import type { TableCaptureOptions } from '@threadline/core';

/** A small SaaS schema: organizations, users (with secrets), memberships (composite key), invoices. */
export const APP_SCHEMA = 'demo_app';

export const APP_DDL = `
create schema ${APP_SCHEMA};
create table ${APP_SCHEMA}.organizations (id serial primary key, name text not null, plan text not null default 'free');
create table ${APP_SCHEMA}.users (
  id serial primary key, name text not null, email text not null unique,
  password_hash text not null, last_seen_at timestamptz);
create table ${APP_SCHEMA}.memberships (
  org_id int not null references ${APP_SCHEMA}.organizations, user_id int not null references ${APP_SCHEMA}.users,
  role text not null, primary key (org_id, user_id));
create table ${APP_SCHEMA}.invoices (
  id serial primary key, org_id int not null references ${APP_SCHEMA}.organizations,
  amount_cents int not null, status text not null default 'draft');
-- A migration tool's bookkeeping table: expected to stay uncovered.
create table ${APP_SCHEMA}.schema_migrations (version text primary key);
`;

/** Capture options: the email is masked, the password hash never stored, last_seen_at is noise. */
export const TABLES: Record<string, TableCaptureOptions> = {
  [`${APP_SCHEMA}.organizations`]: {},
  [`${APP_SCHEMA}.users`]: { mask: ['email'], exclude: ['password_hash'], exceptColumns: ['last_seen_at'] },
  [`${APP_SCHEMA}.memberships`]: {},
  [`${APP_SCHEMA}.invoices`]: {},
};
