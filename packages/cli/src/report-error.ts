import { isThreadlineError } from '@threadline/core';
import { UsageError } from './exit-codes.js';
import { escapeControls } from './format-table.js';
import type { CliIo } from './io.js';

/** `threadline: <message>` on stderr; stack traces only with THREADLINE_DEBUG=1. */
export function reportError(error: unknown, io: CliIo): void {
  const message = error instanceof Error ? error.message : String(error);
  // Messages may quote what was typed or what the database holds: never raw control characters.
  io.stderr.write(`threadline: ${escapeControls(message)}\n`);
  if (error instanceof UsageError && error.usage) io.stderr.write(`usage: ${error.usage}\n`);
  const debug = io.env.THREADLINE_DEBUG === '1';
  const expected = error instanceof UsageError || isThreadlineError(error);
  if (!expected && !debug)
    io.stderr.write(
      'threadline: this is unexpected; run again with THREADLINE_DEBUG=1 to see where it happened\n',
    );
  if (!debug) return;
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 10; depth++) {
    io.stderr.write(
      `${depth > 0 ? 'caused by: ' : ''}${current instanceof Error ? (current.stack ?? current.message) : String(current)}\n`,
    );
    current = current instanceof Error ? current.cause : undefined;
  }
}
