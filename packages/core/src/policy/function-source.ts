/**
 * The body of a generated capture function, taken from the `CREATE FUNCTION ... AS '<body>'`
 * text that capture_plan returns, so it can be compared with pg_proc.prosrc of the installed one.
 * Returns null when the text does not have the generated shape.
 */
export function generatedBody(functionSql: string): string | null {
  const marker = 'SET search_path = pg_catalog, pg_temp\nAS ';
  const at = functionSql.indexOf(marker);
  if (at < 0) return null;
  let literal = functionSql.slice(at + marker.length).trimEnd();
  const escaped = literal.startsWith("E'");
  if (escaped) literal = literal.slice(1);
  if (!literal.startsWith("'") || !literal.endsWith("'")) return null;
  let body = literal.slice(1, -1).replace(/''/g, "'");
  if (escaped) body = body.replace(/\\\\/g, '\\');
  return body;
}
