import { describe, expect, it } from 'vitest';
import * as flag from './bench/flags.ts';

const spec = {
  records: flag.int(1_000_000),
  'slow-kbps': flag.int(1024, 0),
  stocks: flag.ints([1, 10, 100]),
  only: flag.list(null),
  'raw-pull': flag.choice('bytes', ['bytes', 'compactor']),
  child: flag.str(null),
  keep: flag.on(),
};

describe('benchmark flags', () => {
  it('gives the declared defaults when no flag is passed', () => {
    expect(flag.readFlags(spec, [])).toEqual({
      records: 1_000_000,
      'slow-kbps': 1024,
      stocks: [1, 10, 100],
      only: null,
      'raw-pull': 'bytes',
      child: null,
      keep: false,
    });
  });

  it('parses every kind, with _ separators in numbers', () => {
    const f = flag.readFlags(spec, [
      '--records',
      '60_000',
      '--slow-kbps',
      '0',
      '--stocks',
      '5,50',
      '--only',
      'compactor,scale',
      '--raw-pull',
      'compactor',
      '--child',
      '{"role":"raw"}',
      '--keep',
    ]);
    expect(f).toEqual({
      records: 60_000,
      'slow-kbps': 0,
      stocks: [5, 50],
      only: ['compactor', 'scale'],
      'raw-pull': 'compactor',
      child: '{"role":"raw"}',
      keep: true,
    });
  });

  it('refuses bad values, naming the flag', () => {
    expect(() => flag.readFlags(spec, ['--records', 'lots'])).toThrow(
      '--records needs an integer ≥ 1, got "lots"',
    );
    expect(() => flag.readFlags(spec, ['--records', '0'])).toThrow('--records needs an integer ≥ 1');
    expect(() => flag.readFlags(spec, ['--records', '1.5'])).toThrow('--records');
    expect(() => flag.readFlags(spec, ['--slow-kbps=-1'])).toThrow('--slow-kbps needs an integer ≥ 0');
    expect(() => flag.readFlags(spec, ['--stocks', '5,,6'])).toThrow('--stocks needs an integer ≥ 1, got ""');
    expect(() => flag.readFlags(spec, ['--raw-pull', 'fast'])).toThrow(
      '--raw-pull is one of bytes, compactor',
    );
  });

  it('refuses unknown flags, missing values and stray arguments, with the hint', () => {
    expect(() => flag.readFlags(spec, ['--recrods', '5'], 'see --help')).toThrow(/recrods.*\(see --help\)/);
    expect(() => flag.readFlags(spec, ['--records'])).toThrow(/records/);
    expect(() => flag.readFlags(spec, ['stray'])).toThrow(/stray/);
  });
});
