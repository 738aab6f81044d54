/**
 * A YAML writer for the provisioning files: maps, lists, strings, numbers, booleans. Strings stay
 * plain when YAML would read them back as the same string, otherwise they are double-quoted (JSON).
 */
export function toYaml(value: unknown, indent = 0): string {
  return `${lines(value, indent).join('\n')}\n`;
}

const PLAIN = /^[A-Za-z_$/][A-Za-z0-9_$./:-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(v: unknown): string {
  if (typeof v === 'string')
    return PLAIN.test(v) && !RESERVED.test(v) && !v.endsWith(':') ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  throw new Error(`cannot write ${typeof v} as YAML`);
}

const isNode = (v: unknown): v is object => typeof v === 'object' && v !== null;

function lines(value: unknown, indent: number): string[] {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (!value.length) return [`${pad}[]`];
    return value.flatMap((item) => {
      if (!isNode(item)) return [`${pad}- ${scalar(item)}`];
      const [first, ...rest] = lines(item, indent + 2);
      return [`${pad}- ${first!.trimStart()}`, ...rest];
    });
  }
  if (isNode(value)) {
    return Object.entries(value).flatMap(([k, v]) => {
      if (isNode(v) && (!Array.isArray(v) || v.length)) return [`${pad}${k}:`, ...lines(v, indent + 2)];
      return [`${pad}${k}: ${Array.isArray(v) ? '[]' : scalar(v)}`];
    });
  }
  return [`${pad}${scalar(value)}`];
}
