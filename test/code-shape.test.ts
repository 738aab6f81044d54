import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAst } from 'rolldown/parseAst';
import { describe, expect, it } from 'vitest';

/**
 * Code shape (issue #22): no function outside `test/` and `grafana/` longer than 120 lines, and no
 * `as unknown as` outside tests. Functions are found by parsing each tracked `.ts` file with the
 * oxc parser behind `rolldown/parseAst` (TypeScript 7 has no JS compiler API); a function's length
 * is its lines from `function`/`(` to its closing brace. Nested functions count on their own.
 *
 * The check arrived with 14 functions over the limit and 2 double casts listed as debt; issue #22
 * paid them off, so there is no allowance list: any long function or double cast fails it.
 */
const MAX_LINES = 120;

const root = join(import.meta.dirname, '..');

interface Node {
  type?: string;
  start: number;
  end: number;
  [key: string]: unknown;
}

/** Every function over MAX_LINES (`file:name` → lines) and every `as unknown as` (file → count). */
function scan(sources: [file: string, src: string][]): {
  long: Record<string, number>;
  casts: Record<string, number>;
} {
  const long: Record<string, number> = {};
  const casts: Record<string, number> = {};
  for (const [file, src] of sources) {
    const lineStarts = [0];
    for (let i = 0; i < src.length; i++) if (src[i] === '\n') lineStarts.push(i + 1);
    const lineAt = (offset: number) => {
      let lo = 0;
      let hi = lineStarts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (lineStarts[mid]! <= offset) lo = mid;
        else hi = mid - 1;
      }
      return lo + 1;
    };
    const nameOf = (node: Node, parent: Node | null): string => {
      const named = (n: unknown) => (n as { name?: string } | undefined)?.name;
      return named(node.id) ?? named(parent?.id) ?? named(parent?.key) ?? '(anonymous)';
    };
    const walk = (value: unknown, parent: Node | null): void => {
      if (!value || typeof value !== 'object') return;
      if (Array.isArray(value)) {
        for (const child of value) walk(child, parent);
        return;
      }
      const node = value as Node;
      if (/Function/.test(node.type ?? '') && node.body) {
        const lines = lineAt(node.end) - lineAt(node.start) + 1;
        if (lines > MAX_LINES) long[`${file}:${nameOf(node, parent)}`] = lines;
      }
      const inner = node.expression as Node | undefined;
      if (
        node.type === 'TSAsExpression' &&
        inner?.type === 'TSAsExpression' &&
        (inner.typeAnnotation as Node | undefined)?.type === 'TSUnknownKeyword'
      ) {
        casts[file] = (casts[file] ?? 0) + 1;
      }
      for (const [key, child] of Object.entries(node)) if (key !== 'parent') walk(child, node);
    };
    walk(parseAst(src, { lang: 'ts' }, file), null);
  }
  return { long, casts };
}

const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f && existsSync(join(root, f)));
const production = tracked
  .filter((f) => !f.endsWith('.test.ts') && !f.startsWith('test/'))
  .map((f): [string, string] => [f, readFileSync(join(root, f), 'utf8')]);

describe('code shape', () => {
  const { long } = scan(production.filter(([f]) => !f.startsWith('grafana/')));

  it(`no function outside test/ and grafana/ is longer than ${MAX_LINES} lines`, () => {
    expect(long).toEqual({});
  });

  it('no `as unknown as` outside tests', () => {
    expect(scan(production).casts).toEqual({});
  });

  it('finds what it looks for: a long function, a nested one, a method and a double cast', () => {
    const body = Array.from({ length: MAX_LINES }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const src = [
      `export function outer() {\n${body}\n  const inner = () => {\n${body}\n  };\n}`,
      `class C {\n  method() {\n${body}\n  }\n}`,
      'const x = 1 as unknown as string;',
      'function short() {\n  return 1;\n}',
    ].join('\n');
    const found = scan([['probe.ts', src]]);
    expect(Object.keys(found.long).sort()).toEqual(['probe.ts:inner', 'probe.ts:method', 'probe.ts:outer']);
    expect(found.long['probe.ts:outer']).toBe(2 * MAX_LINES + 4);
    expect(found.casts).toEqual({ 'probe.ts': 1 });
  });
});
