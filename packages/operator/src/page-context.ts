import type { Threadline } from '@threadline/core';
import type { Html } from './html/escape.js';
import type { Operations } from './operations.js';
import type { OperatorGrant } from './options.js';

export type Theme = 'system' | 'light' | 'dark';

/** Everything a page needs to render one request. */
export interface PageContext {
  readonly tl: Threadline;
  readonly ops: Operations;
  readonly grant: OperatorGrant;
  readonly query: URLSearchParams;
  readonly csrfToken: string;
  readonly theme: Theme;
  readonly pollSeconds: number;
  /** The route being served, e.g. "/timeline" (for the nav's current page). */
  readonly route: string;
  /** Coverage summary for the header pill, when the grant and this core version allow it. */
  readonly coverage: { uncovered: number | null } | null;
  /** A link to a page of this surface, with query parameters (encoded). */
  link(path: string, params?: Record<string, string | null | undefined>): string;
}

/** What a page renders: the layout adds header, nav and footer. */
export interface PageResult {
  status?: number;
  title: string;
  body: Html;
  /** The equivalent CLI command, shown on the page. */
  cli?: string;
}
