import { isThreadlineError } from '@threadline/core';
import { type Html, html } from '../html/escape.js';
import { securityHeaders } from './headers.js';

export function htmlResponse(
  body: Html | string,
  status = 200,
  extra: Record<string, string> = {},
): Response {
  return new Response(String(body), { status, headers: securityHeaders('text/html; charset=utf-8', extra) });
}

export function jsonResponse(body: string, status = 200): Response {
  return new Response(body, { status, headers: securityHeaders('application/json; charset=utf-8') });
}

/** HTTP status for an error a page or API call raised; anything unexpected is a 500. */
export function statusOf(error: unknown): number {
  if (!isThreadlineError(error)) return 500;
  switch (error.code) {
    case 'QUERY_INVALID':
    case 'INVALID_ACTOR':
    case 'INVALID_CONTEXT':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'FORBIDDEN':
      return 403;
    default:
      return 500;
  }
}

/** What a person or a script may see of an error: the message of a usage error, nothing else. */
export function publicMessage(error: unknown, status: number): string {
  if (status >= 500 || !isThreadlineError(error))
    return 'Something went wrong on the server. The details are in its logs.';
  return error.message;
}

export function codeOf(error: unknown): string {
  return isThreadlineError(error) ? error.code : 'INTERNAL';
}

/** A minimal page for responses before authorization (no data, no layout links). */
export function barePage(status: number, title: string, message: string): Response {
  return htmlResponse(
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1><p>${message}</p></main></body></html>`,
    status,
  );
}
