/** Small text formatting helpers shared by the page generators. */
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';

/** 1234567 → `1,234,567` (integers; negative keeps its sign). */
export function commas(n: number): string {
  const s = String(Math.abs(Math.trunc(n)));
  const out = s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${out}` : out;
}

/** Fixed decimals with thousands commas: (3944.19, 2) → `3,944.19`. */
export function commasFixed(x: number, decimals: number): string {
  const [i = '0', f] = Math.abs(x).toFixed(decimals).split('.');
  const body = `${i.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${f === undefined ? '' : `.${f}`}`;
  return x < 0 ? `-${body}` : body;
}

/** Milli-units → decimal string with `decimals` places (exact). */
export function milliStr(milli: number, decimals: number): string {
  const neg = milli < 0;
  const m = Math.abs(Math.round(milli));
  const int = Math.floor(m / 1000);
  const frac = String(m % 1000).padStart(3, '0');
  const f = decimals >= 3 ? frac.padEnd(decimals, '0') : frac.slice(0, decimals);
  return `${neg ? '-' : ''}${int}${decimals > 0 ? `.${f}` : ''}`;
}

/** `{{KEY}}` substitution; unknown keys are an error (templates are ours). */
export function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_m, k: string) => {
    const v = vars[k];
    if (v === undefined)
      throw new HarbourError(ErrorCodes.Internal, `fixture site: template variable ${k} not set`);
    return v;
  });
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const MON = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

export function parts(iso: string): { y: string; m: string; d: string } {
  return { y: iso.slice(0, 4), m: iso.slice(5, 7), d: iso.slice(8, 10) };
}

/** `2026-10-02` → `02 OCT 2026 (FRIDAY)`. */
export function reportDate(iso: string): string {
  const { y, m, d } = parts(iso);
  const wd = new Date(`${iso}T00:00:00Z`).getUTCDay();
  return `${d} ${MON[Number(m) - 1]} ${y} (${DAY[wd]})`;
}

/** `2026-10-02` → `02 Oct 2026`. */
export function englishDate(iso: string): string {
  const { y, m, d } = parts(iso);
  const mon = MON[Number(m) - 1]!;
  return `${d} ${mon[0]}${mon.slice(1).toLowerCase()} ${y}`;
}

/** `2018-06-08` → `2018年6月8日`. */
export function chineseDate(iso: string): string {
  const { y, m, d } = parts(iso);
  return `${y}年${Number(m)}月${Number(d)}日`;
}
