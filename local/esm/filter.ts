// A mapping's FilterCriteria (Lambda event filtering): records whose event record matches none of the
// filters never reach the function; Lambda counts them as processed and moves its checkpoint past them.
// Each filter's Pattern is an EventBridge-style pattern over the record as the function would see it (a
// DynamoDB stream record: eventName, dynamodb.Keys, dynamodb.NewImage in DynamoDB JSON, ...). Filters are
// ORed; within a pattern every key must match. A key maps either to a nested pattern or to a list of
// matchers, any of which may match: a literal (string, number, boolean, null), or one of
// {"exists": bool}, {"prefix": s}, {"suffix": s}, {"equals-ignore-case": s}, {"anything-but": literal or
// list, or {"prefix": s}}, {"numeric": [op, n, ...]}. Matchers look at leaves only (a string, number,
// boolean or null, or an array of them): `exists` on a key whose value is an object does not match, which
// is why a DynamoDB attribute is named with its type (`{"rows": {"B": [{"exists": true}]}}`). Other
// operators ($or, wildcard, cidr) are refused when the template is read, never silently ignored.

export type RecordFilter = (record: unknown) => boolean;

export class FilterPatternError extends Error {
  override readonly name = 'FilterPatternError';
}

type Matcher = (leaf: Leaf) => boolean;
type Leaf = string | number | boolean | null;

const NUMERIC_OPERATORS: Record<string, (a: number, b: number) => boolean> = {
  '=': (a, b) => a === b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

/** One record filter from a mapping's patterns (FilterCriteria.Filters[].Pattern): matches if any does. */
export function compileFilters(patterns: readonly string[]): RecordFilter {
  const filters = patterns.map((pattern) => compilePattern(pattern));
  return (record) => filters.some((filter) => filter(record));
}

/** One pattern as a record filter; throws FilterPatternError naming what is wrong with it. */
export function compilePattern(text: string): RecordFilter {
  let pattern: unknown;
  try {
    pattern = JSON.parse(text);
  } catch {
    throw new FilterPatternError(`filter pattern is not JSON: ${text}`);
  }
  if (!isObject(pattern)) throw new FilterPatternError(`filter pattern must be a JSON object: ${text}`);
  return compileObject(pattern, '');
}

function compileObject(pattern: Record<string, unknown>, path: string): RecordFilter {
  const keys = Object.entries(pattern).map(([key, sub]) => {
    const where = path ? `${path}.${key}` : key;
    if (key.startsWith('$')) throw new FilterPatternError(`${where}: ${key} is not supported locally`);
    if (Array.isArray(sub)) {
      const matchers = sub.map((matcher) => compileMatcher(matcher, where));
      const absentMatches = sub.some((matcher) => isObject(matcher) && matcher.exists === false);
      return (value: unknown) => matchLeaf(value, matchers, absentMatches);
    }
    if (isObject(sub)) {
      const nested = compileObject(sub, where);
      return (value: unknown) => nested(isObject(value) ? value : {});
    }
    throw new FilterPatternError(`${where}: expected a list of matchers or a nested pattern`);
  });
  const names = Object.keys(pattern);
  return (record) => {
    const object = isObject(record) ? record : {};
    return keys.every((matches, i) => matches(object[names[i] as string]));
  };
}

function matchLeaf(value: unknown, matchers: Matcher[], absentMatches: boolean): boolean {
  if (value === undefined) return absentMatches;
  const leaves = Array.isArray(value) ? value : [value];
  return leaves.some((leaf) => isLeaf(leaf) && matchers.some((matches) => matches(leaf)));
}

function compileMatcher(matcher: unknown, where: string): Matcher {
  if (isLeaf(matcher)) return (leaf) => leaf === matcher;
  if (!isObject(matcher) || Object.keys(matcher).length !== 1) {
    throw new FilterPatternError(`${where}: a matcher is a literal or an object with one operator`);
  }
  const [operator, operand] = Object.entries(matcher)[0] as [string, unknown];
  switch (operator) {
    case 'exists':
      if (typeof operand !== 'boolean') throw new FilterPatternError(`${where}: exists takes true or false`);
      // A present leaf matches `exists: true`; `exists: false` matches only an absent key (matchLeaf).
      return () => operand;
    case 'prefix':
      return stringMatcher(operand, where, operator, (leaf, s) => leaf.startsWith(s));
    case 'suffix':
      return stringMatcher(operand, where, operator, (leaf, s) => leaf.endsWith(s));
    case 'equals-ignore-case':
      return stringMatcher(operand, where, operator, (leaf, s) => leaf.toLowerCase() === s.toLowerCase());
    case 'anything-but':
      return anythingBut(operand, where);
    case 'numeric':
      return numeric(operand, where);
    default:
      throw new FilterPatternError(`${where}: operator ${operator} is not supported locally`);
  }
}

function stringMatcher(
  operand: unknown,
  where: string,
  operator: string,
  test: (leaf: string, operand: string) => boolean,
): Matcher {
  if (typeof operand !== 'string') throw new FilterPatternError(`${where}: ${operator} takes a string`);
  return (leaf) => typeof leaf === 'string' && test(leaf, operand);
}

function anythingBut(operand: unknown, where: string): Matcher {
  if (isObject(operand)) {
    const prefix = compileMatcher(operand, where);
    return (leaf) => typeof leaf === 'string' && !prefix(leaf);
  }
  const excluded = Array.isArray(operand) ? operand : [operand];
  if (!excluded.every(isLeaf)) throw new FilterPatternError(`${where}: anything-but takes literals`);
  return (leaf) => !excluded.includes(leaf);
}

function numeric(operand: unknown, where: string): Matcher {
  if (!Array.isArray(operand) || operand.length === 0 || operand.length % 2 !== 0) {
    throw new FilterPatternError(`${where}: numeric takes [operator, number, ...]`);
  }
  const conditions: Array<(n: number) => boolean> = [];
  for (let i = 0; i < operand.length; i += 2) {
    const compare = NUMERIC_OPERATORS[operand[i] as string];
    const bound = operand[i + 1];
    if (!compare || typeof bound !== 'number') {
      throw new FilterPatternError(`${where}: numeric takes [operator, number, ...] with = < <= > >=`);
    }
    conditions.push((n) => compare(n, bound));
  }
  return (leaf) => typeof leaf === 'number' && conditions.every((condition) => condition(leaf));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isLeaf(value: unknown): value is Leaf {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}
