import { describe, expect, it } from 'vitest';
import { isNumberLiteral, metricNames, topLevelOperands } from './promql.ts';

describe('PromQL helpers', () => {
  it('splits an alert condition into its operands', () => {
    expect(topLevelOperands('harbour:x > 0')).toEqual(['harbour:x', '0']);
    expect(topLevelOperands('deriv(a[10m]) > 0\nand a > 0')).toEqual(['deriv(a[10m])', '0', 'a', '0']);
    expect(
      topLevelOperands(
        'max by (s, c) (p{consumer=~"c-.+"} + q{consumer=~"c-.+"}) > 0\nand on (s, c)\nmax by (s, c) (changes(f{consumer!="x"}[30m])) == 0',
      ),
    ).toEqual([
      'max by (s, c) (p{consumer=~"c-.+"} + q{consumer=~"c-.+"})',
      '0',
      'max by (s, c) (changes(f{consumer!="x"}[30m]))',
      '0',
    ]);
    expect(topLevelOperands('a >= bool 2 unless ignoring(x) group_left(y) b')).toEqual(['a', '2', 'b']);
    expect(topLevelOperands('(a > 1) or vector(0)')).toEqual(['(a > 1)', 'vector(0)']);
    expect(topLevelOperands('sum(rate(x{l="a > b"}[5m]))')).toEqual(['sum(rate(x{l="a > b"}[5m]))']);
    expect(isNumberLiteral('0.2')).toBe(true);
    expect(isNumberLiteral('1e3')).toBe(true);
    expect(isNumberLiteral('up')).toBe(false);
  });

  it('lists the metric names an expression reads', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, dataset) (rate(harbour_x_bucket{dataset=~"a|b"}[5m]))) / on (dataset) group_left harbour:y',
      ).sort(),
    ).toEqual(['harbour:y', 'harbour_x_bucket']);
    expect(metricNames('time() - max by (job) (harbour_t)')).toEqual(['harbour_t']);
    expect(metricNames('up{job="harbour"} == 0 and 1e3 > 2')).toEqual(['up']);
    expect(metricNames('sum(a) or 0 * sum(b offset 5m)').sort()).toEqual(['a', 'b']);
  });
});
