import { isThreadlineError } from '@threadline/core';

/** 0 ok; 1 a check failed or a thing was not found; 2 usage, configuration or connection error. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake on the command line; reported with the command's usage line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
  }
}

const USAGE_CODES = new Set([
  'CONFIG_INVALID',
  'CONNECTION_FAILED',
  'QUERY_INVALID',
  'INVALID_ACTOR',
  'INVALID_CONTEXT',
]);

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError) return ExitCode.usage;
  if (isThreadlineError(error) && USAGE_CODES.has(error.code)) return ExitCode.usage;
  return ExitCode.failed;
}
