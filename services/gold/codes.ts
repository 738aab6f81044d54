/**
 * An HKEX stock code as gold stores it: 5 digits, zero-padded (`700` → `00700`). Returns null for
 * anything but 1–5 digits (and for 0); callers turn that into their own error (the exporter's 400
 * naming the parameter, the reporter's config error).
 */
export function stockCode(raw: string): string | null {
  const s = raw.trim();
  if (!/^\d{1,5}$/.test(s) || Number(s) === 0) return null;
  return s.padStart(5, '0');
}
