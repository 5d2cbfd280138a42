const JSON_FORMAT_VERSION = 1;

/** `{"format_version":1,"generated_at":…,"filters":…,"changes":[` (the objects are written by PostgreSQL). */
export function jsonPrefix(generatedAt: string, filtersJson: string): string {
  return `{"format_version":${JSON_FORMAT_VERSION},"generated_at":${JSON.stringify(generatedAt)},"filters":${filtersJson},"changes":[\n`;
}

export const JSON_SUFFIX = '\n]}\n';
