import { jsonString } from './json-text.js';
import { changeObject } from './ndjson.js';

const JSON_FORMAT_VERSION = 1;

/** `{"format_version":1,"generated_at":…,"filters":…,"changes":[` */
export function jsonPrefix(generatedAt: string, filtersJson: string): string {
  return `{"format_version":${JSON_FORMAT_VERSION},"generated_at":${jsonString(generatedAt)},"filters":${filtersJson},"changes":[\n`;
}

/** Rows of the changes array; `first` says whether nothing was written before them. */
export function jsonRows(rows: readonly import('../columns.js').ExportRow[], first: boolean): string {
  let out = '';
  for (let i = 0; i < rows.length; i++) out += `${first && i === 0 ? '' : ',\n'}${changeObject(rows[i]!)}`;
  return out;
}

export const JSON_SUFFIX = '\n]}\n';
