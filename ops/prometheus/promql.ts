/**
 * Just enough PromQL structure for the tests that check dashboards and rules against a running
 * Prometheus: the operands of an alert condition, and the metric names an expression reads.
 */

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** Masks string literals, label matchers `{…}` and range selectors `[…]` with spaces (same length). */
function mask(expr: string): string {
  let out = '';
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') {
        out += '  ';
        i++;
        continue;
      }
      if (c === quote) quote = null;
      out += ' ';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c;
      out += ' ';
      continue;
    }
    if (c === '{' || c === '[') depth++;
    if (depth > 0) {
      out += c === '\n' ? '\n' : ' ';
      if (c === '}' || c === ']') depth--;
      continue;
    }
    out += c;
  }
  return out;
}

/**
 * The operands of the top-level comparison and set operators (`> < >= <= == !=`, `and`, `or`,
 * `unless`) of an expression, with their modifiers (`bool`, `on(…)`, `group_left(…)`…) dropped.
 * `a > 0 and on (x) b == 0` → `['a', '0', 'b', '0']`. Arithmetic is not split.
 */
export function topLevelOperands(expr: string): string[] {
  const masked = mask(expr);
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let i = 0;
  const cut = (end: number, next: number) => {
    parts.push(expr.slice(start, end));
    // Skip the operator's modifiers: bool, on/ignoring(…), group_left/group_right(…).
    let j = next;
    for (;;) {
      const rest = masked.slice(j);
      const m = /^\s*(bool|on|ignoring|group_left|group_right)\b\s*/i.exec(rest);
      if (!m) break;
      j += m[0].length;
      if (masked[j] === '(') {
        let d = 0;
        for (; j < masked.length; j++) {
          if (masked[j] === '(') d++;
          if (masked[j] === ')' && --d === 0) {
            j++;
            break;
          }
        }
      }
    }
    start = j;
    i = j;
  };
  while (i < masked.length) {
    const c = masked[i]!;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if (depth === 0) {
      const two = masked.slice(i, i + 2);
      if (two === '==' || two === '!=' || two === '>=' || two === '<=') {
        cut(i, i + 2);
        continue;
      }
      if (c === '>' || c === '<') {
        cut(i, i + 1);
        continue;
      }
      const word = /^(and|or|unless)\b/i.exec(masked.slice(i));
      if (word && (i === 0 || /[\s)]/.test(masked[i - 1]!))) {
        cut(i, i + word[0].length);
        continue;
      }
    }
    i++;
  }
  parts.push(expr.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** True for a number literal operand (`0`, `0.2`, `-1`, `1e3`). */
export function isNumberLiteral(operand: string): boolean {
  return /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i.test(operand.trim());
}

/** Metric names read by an expression (vector selectors), recording rule names included. */
export function metricNames(expr: string): string[] {
  const masked = mask(expr)
    // Grouping label lists: by (…), without (…), on (…), ignoring (…), group_left (…), group_right (…).
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set<string>();
  for (const m of masked.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = m[0];
    const after = masked.slice(m.index + name.length).trimStart();
    const before = masked.slice(0, m.index);
    if (after.startsWith('(')) continue; // a function or aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/[\d.]$/.test(before) || /\d[eE]$/.test(before + name.slice(0, 1))) continue; // part of a number
    names.add(name);
  }
  return [...names];
}
