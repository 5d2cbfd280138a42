/**
 * The plan guard part of capture_plan's body (capture-generator.ts pastes it in): which settings a
 * generated capture statement fixes around itself, and the PL/pgSQL that saves, sets and restores
 * them (`guards`: the full guard for statements that join, then the lighter one for INSERT and
 * DELETE). Reads capture_plan's variables `mode`, `col_types`, `a_g`, `a_d`; sets `needs_utc`,
 * `guard_on`, `guard_off`, `guards`.
 */
export const CAPTURE_PLAN_GUARD = String.raw`  -- The plan guard: statements over transition tables of any size get one plan shape (hash join,
  -- no JIT, room for the hash in memory) whatever row count their cached plan was made for, and
  -- fixed output settings where a column's JSON image could depend on the writer's session
  -- (TimeZone UTC for timestamptz, IntervalStyle postgres for interval, extra_float_digits 1 for
  -- float4/float8, bytea_output hex, lc_monetary C for money, DateStyle ISO for the date/time values
  -- inside a range or multirange (their output function renders them; to_jsonb of a date or
  -- timestamp itself, also inside an array or composite, is always ISO), all of them for any type not
  -- known to be free of them; portable mode cannot know its columns): the stored text reads back as the
  -- same value whoever wrote it. Set with set_config for the
  -- statement and put back after it, instead of SET clauses on the function: a function's SET
  -- clauses save and restore every setting on every call (~10 µs per statement, measured by
  -- bench/src/tpcb-cost.ts). An error in between rolls the (sub)transaction back, settings too.
  needs_utc := mode = 'portable' OR EXISTS (
    WITH RECURSIVE walk(oid, depth) AS (
      SELECT u, 0 FROM unnest(col_types) u
      UNION ALL
      SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END, w.depth + 1
        FROM walk w JOIN pg_type t ON t.oid = w.oid
       WHERE (t.typtype = 'd' OR (t.typcategory = 'A' AND t.typelem <> 0)) AND w.depth < 20)
    SELECT 1 FROM walk w JOIN pg_type t ON t.oid = w.oid
     WHERE NOT (t.typtype = 'd' OR (t.typcategory = 'A' AND t.typelem <> 0))
       AND NOT (t.typtype = 'e' OR (t.typnamespace = 'pg_catalog'::regnamespace AND t.typname IN (
             'int2', 'int4', 'int8', 'numeric', 'bool', 'text', 'varchar', 'bpchar', 'name', 'char',
             'uuid', 'json', 'jsonb', 'date', 'timestamp', 'time', 'inet', 'cidr', 'macaddr', 'macaddr8', 'oid'))));
  -- Each guard saves exactly the settings it changes, and puts them back after the statement. The
  -- full guard (plan shape, jit, room for the hash) is for the statements that join; the INSERT and
  -- DELETE statements join nothing, so theirs needs only jit off (a cached plan made for many rows
  -- would compile on every call) and the output settings.
  FOR n IN 1 .. 2 LOOP
    -- One assignment saves and sets (ARRAY[] evaluates its elements in order: the saved values come
    -- first); putting one setting back needs no concat.
    SELECT format('%I := ARRAY[%s, %s];', a_g,
                  string_agg(format('current_setting(%L)', g.name), ', ' ORDER BY g.i),
                  string_agg(format('set_config(%L, %L, true)', g.name, g.value), ', ' ORDER BY g.i)),
           format(CASE WHEN count(*) = 1 THEN '%I := %s;' ELSE '%I := concat(%s);' END, a_d,
                  string_agg(format('set_config(%L, %I[%s], true)', g.name, a_g, g.i), ', ' ORDER BY g.i))
      INTO guard_on, guard_off
      FROM (SELECT row_number() OVER (ORDER BY x.ord) AS i, x.name, x.value
              FROM (VALUES (1, 'jit', 'off', true), (2, 'enable_nestloop', 'off', n = 1), (3, 'enable_mergejoin', 'off', n = 1),
                           (4, 'work_mem', '64MB', n = 1), (5, 'TimeZone', 'UTC', needs_utc), (6, 'IntervalStyle', 'postgres', needs_utc),
                           (7, 'extra_float_digits', '1', needs_utc), (8, 'bytea_output', 'hex', needs_utc),
                           (9, 'lc_monetary', 'C', needs_utc), (10, 'DateStyle', 'ISO, MDY', needs_utc)) AS x(ord, name, value, used)
             WHERE x.used) AS g;
    guards := guards || ARRAY[guard_on, guard_off];
  END LOOP;

`;
