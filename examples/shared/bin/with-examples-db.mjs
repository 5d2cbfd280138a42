#!/usr/bin/env node
// with-examples-db <command> [args...]
//
// Runs the command with DATABASE_URL set. Yours is used as given; without one, the examples use
// their own database, threadline_examples on the local server (created when missing), so they
// never write into the default `postgres` database.
import { spawn } from 'node:child_process';
import pg from 'pg';

const SERVER = 'postgres://postgres@127.0.0.1:5432';
const DATABASE = 'threadline_examples';

async function examplesDatabase() {
  const admin = new pg.Client({ connectionString: `${SERVER}/postgres` });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (!rowCount) {
      await admin.query(`create database ${DATABASE}`).catch((error) => {
        if (error.code !== '42P04') throw error; // created meanwhile by another example
      });
      console.error(`[with-examples-db] created database ${DATABASE}`);
    }
  } finally {
    await admin.end();
  }
  return `${SERVER}/${DATABASE}`;
}

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: with-examples-db <command> [args...]');
  process.exit(2);
}
const url = process.env.DATABASE_URL || (await examplesDatabase());
const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, DATABASE_URL: url } });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
