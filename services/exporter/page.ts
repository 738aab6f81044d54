import { createHash } from 'node:crypto';
import { addDays, createCalendar, localDate, type TradingCalendar } from '../calendar/index.ts';

/**
 * The exporter's web page: one self-contained HTML document (no CDN, no external file): the
 * export form (codes with a name lookup, date range, sheet choice, optional access token), a
 * price/volume chart and a CCASS top-holders chart drawn as inline SVG, and a download button.
 * Everything it shows is set with `textContent`/SVG attributes, never as HTML, so names from the
 * data cannot inject markup. The Content-Security-Policy allows only this script and style (by hash).
 *
 * Dates are shown and typed as dd/mm/yyyy, like the workbook, whatever the browser's locale (text
 * inputs, not `<input type=date>`, whose format follows the locale). The defaults are set by the
 * server per request: `to` is the last Hong Kong trading day (HK local date, trading calendar),
 * `from` one year before it.
 */
const STYLE = `
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; background: #f5f7fa; }
body { margin: 0 auto; max-width: 980px; padding: 16px 20px 40px; }
h1 { font-size: 1.4rem; margin: 8px 0 16px; }
h2 { font-size: 1.05rem; margin: 0 0 8px; }
form { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px 16px; background: #fff;
  padding: 16px; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
label, fieldset { display: flex; flex-direction: column; gap: 4px; font-size: .85rem; color: #52606d; }
fieldset { border: 0; padding: 0; margin: 0; }
fieldset label { flex-direction: row; align-items: center; gap: 6px; color: #1f2933; }
input, select, button { font: inherit; padding: 6px 8px; border: 1px solid #cbd2d9; border-radius: 6px; background: #fff; }
button { cursor: pointer; background: #2f6fdf; color: #fff; border-color: #2f6fdf; }
button.secondary { background: #fff; color: #2f6fdf; }
button:disabled { opacity: .6; cursor: progress; }
.actions { display: flex; gap: 8px; align-items: flex-end; }
.lookup { position: relative; }
#suggestions { list-style: none; margin: 0; padding: 0; position: absolute; top: 100%; left: 0; right: 0; z-index: 2;
  background: #fff; border: 1px solid #cbd2d9; border-radius: 6px; max-height: 240px; overflow: auto; }
#suggestions:empty { display: none; }
#suggestions button { display: block; width: 100%; text-align: left; background: #fff; color: #1f2933; border: 0; border-radius: 0; }
#suggestions button:hover, #suggestions button:focus { background: #e4ecfb; }
#status { min-height: 1.4em; font-size: .9rem; }
#status.error { color: #b42318; }
section { background: #fff; margin-top: 16px; padding: 16px; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
svg { width: 100%; height: auto; display: block; }
svg text { font-size: 11px; fill: #52606d; }
svg .title { font-size: 13px; fill: #1f2933; font-weight: 600; }
svg .grid { stroke: #e4e7eb; stroke-width: 1; }
svg .close-line { fill: none; stroke: #2f6fdf; stroke-width: 1.6; }
svg .vol-bar.up { fill: #2e9d5b; } svg .vol-bar.down { fill: #d64545; } svg .vol-bar.flat { fill: #9aa5b1; }
svg .ccass-bar { fill: #6b8fd6; }
svg .chg-up { fill: #2e9d5b; } svg .chg-down { fill: #d64545; }
svg .axis-label { font-size: 11px; fill: #52606d; }
input[aria-invalid=true] { border-color: #b42318; }
`;

const SCRIPT = `
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const NS = 'http://www.w3.org/2000/svg';
  const form = $('export-form'), codesIn = $('codes'), lookup = $('lookup'), list = $('suggestions');
  const fromIn = $('from'), toIn = $('to'), tokenIn = $('token'), chartCode = $('chart-code'), status = $('status');
  // dd/mm/yyyy (what the user sees and types) -> yyyy-mm-dd (what the API takes); a wrong date throws a message naming the field.
  function isoOf(input, label) {
    const m = /^\\s*(\\d{1,2})\\/(\\d{1,2})\\/(\\d{4})\\s*$/.exec(input.value);
    const iso = m ? m[3] + '-' + m[2].padStart(2, '0') + '-' + m[1].padStart(2, '0') : '';
    const d = iso ? new Date(iso + 'T00:00:00Z') : null;
    if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso) {
      input.setAttribute('aria-invalid', 'true');
      throw new Error(label + ': "' + input.value.trim() + '" is not a date; type it as dd/mm/yyyy, e.g. 30/10/2026');
    }
    input.removeAttribute('aria-invalid');
    return iso;
  }
  tokenIn.value = sessionStorage.getItem('harbour-token') || '';
  tokenIn.addEventListener('change', () => sessionStorage.setItem('harbour-token', tokenIn.value));
  const names = new Map();

  // One status line: every new attempt replaces it, so an old error never stays on screen.
  function say(msg, isError) { status.textContent = msg; status.className = isError ? 'error' : ''; }
  function clearError() { if (status.className === 'error') say(''); }
  function headers() { return tokenIn.value ? { authorization: 'Bearer ' + tokenIn.value } : {}; }
  async function getJson(url) {
    const res = await fetch(url, { headers: headers() });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || ('HTTP ' + res.status));
    return body;
  }
  function codes() {
    return codesIn.value.split(',').map((s) => s.trim()).filter(Boolean).map((s) => /^\\d{1,5}$/.test(s) ? s.padStart(5, '0') : s);
  }
  function refreshChartChoices() {
    const keep = chartCode.value;
    chartCode.replaceChildren();
    for (const c of codes()) {
      const o = document.createElement('option');
      o.value = c; o.textContent = names.has(c) ? c + ' ' + names.get(c) : c;
      chartCode.append(o);
    }
    if (codes().includes(keep)) chartCode.value = keep;
  }
  codesIn.addEventListener('input', refreshChartChoices);

  let timer;
  lookup.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = lookup.value.trim();
      if (!q) { list.replaceChildren(); return; }
      try {
        const { stocks } = await getJson('/api/stocks?q=' + encodeURIComponent(q));
        clearError();
        list.replaceChildren(...stocks.slice(0, 12).map((s) => {
          names.set(s.code, s.name);
          const li = document.createElement('li');
          const b = document.createElement('button');
          b.type = 'button'; b.dataset.code = s.code; b.textContent = s.code + '  ' + s.name;
          b.addEventListener('click', () => {
            const now = codes();
            if (!now.includes(s.code)) codesIn.value = [...now, s.code].join(',');
            lookup.value = ''; list.replaceChildren();
            refreshChartChoices(); chartCode.value = s.code;
          });
          li.append(b);
          return li;
        }));
      } catch (e) { say(e.message, true); }
    }, 150);
  });

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const fmt = (v, d) => v === null || v === undefined ? '–' : Number(v).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const dmy = (s) => s.slice(8, 10) + '/' + s.slice(5, 7) + '/' + s.slice(0, 4);

  function drawPrices(data) {
    const svg = $('price-chart');
    svg.replaceChildren();
    const W = 900, H = 360, L = 64, R = 16, T = 28, PH = 200, VT = 250, VH = 80;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const rows = data.rows;
    svg.append(el('text', { x: L, y: 16, class: 'title' }, data.code + ' ' + (data.name || '') + ': close and volume'));
    if (!rows.length) { svg.append(el('text', { x: L, y: 60 }, 'no prices in this range')); svg.dataset.points = '0'; return; }
    const closes = rows.filter((r) => r.close !== null).map((r) => r.close);
    const lo = Math.min(...closes), hi = Math.max(...closes), span = hi - lo || 1;
    const vmax = Math.max(1, ...rows.map((r) => r.volume || 0));
    const step = (W - L - R) / Math.max(1, rows.length);
    const x = (i) => L + step * (i + 0.5);
    const y = (v) => T + PH - ((v - lo) / span) * PH;
    for (const v of [lo, lo + span / 2, hi]) {
      svg.append(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
      svg.append(el('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v, 2)));
    }
    let d = '', points = 0, pen = false;
    rows.forEach((r, i) => {
      if (r.close === null) { pen = false; return; }
      d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(r.close).toFixed(1) + ' ';
      pen = true; points++;
    });
    const line = el('path', { d: d.trim(), class: 'close-line', 'data-points': points });
    svg.append(line);
    svg.append(el('line', { x1: L, x2: W - R, y1: VT + VH, y2: VT + VH, class: 'grid' }));
    // The volume label sits inside the plot above its bars, clear of the price axis labels on the left.
    svg.append(el('text', { x: L - 6, y: VT + 8, 'text-anchor': 'end' }, new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(vmax)));
    svg.append(el('text', { x: L + 4, y: VT - 6, class: 'axis-label' }, 'volume (shares)'));
    const bw = Math.max(1, step * 0.7);
    rows.forEach((r, i) => {
      if (!r.volume) return;
      const h = (r.volume / vmax) * VH;
      const kind = r.directed_volume > 0 ? 'up' : r.directed_volume < 0 ? 'down' : 'flat';
      const bar = el('rect', { x: (x(i) - bw / 2).toFixed(1), y: (VT + VH - h).toFixed(1), width: bw.toFixed(1), height: h.toFixed(1), class: 'vol-bar ' + kind });
      bar.append(el('title', {}, dmy(r.date) + '  close ' + fmt(r.close, 3) + '  volume ' + fmt(r.volume, 0) + '  directed ' + fmt(r.directed_volume, 0)));
      svg.append(bar);
    });
    svg.append(el('text', { x: L, y: H - 4 }, dmy(rows[0].date)));
    svg.append(el('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, dmy(rows[rows.length - 1].date)));
    svg.dataset.points = String(points);
  }

  // A holder's change: in percentage points of issued shares when that shows a non-zero figure
  // with 2 decimals, else in shares (never "+0.000 pp"); nothing when unchanged.
  function changeLabel(h) {
    if (!h.changeShares) return '';
    const sign = h.changeShares > 0 ? '+' : '-';
    if (h.changePctIssued !== null && Math.abs(h.changePctIssued) >= 0.005) return sign + fmt(Math.abs(h.changePctIssued), 2) + ' pp';
    return sign + fmt(Math.abs(h.changeShares), 0) + ' shares';
  }

  function drawCcass(data) {
    const svg = $('ccass-chart');
    svg.replaceChildren();
    const holders = data.holders || [];
    const W = 900, L = 330, R = 150, T = 30, BH = 18, GAP = 6;
    const H = T + holders.length * (BH + GAP) + 16;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + Math.max(H, 60));
    const title = data.holdingDate
      ? data.code + ' CCASS holders on ' + dmy(data.holdingDate) + (data.top10Pct !== null ? '  (top-10: ' + fmt(data.top10Pct, 2) + ' % of issued shares)' : '')
      : data.code + ': no CCASS holdings';
    svg.append(el('text', { x: 8, y: 16, class: 'title' }, title));
    const max = Math.max(0.0001, ...holders.map((h) => h.pctIssued || 0));
    holders.forEach((h, i) => {
      const y = T + i * (BH + GAP);
      const name = h.participantName.length > 40 ? h.participantName.slice(0, 39) + '…' : h.participantName;
      svg.append(el('text', { x: L - 8, y: y + BH - 5, 'text-anchor': 'end' }, name));
      const w = ((h.pctIssued || 0) / max) * (W - L - R);
      const bar = el('rect', { x: L, y, width: w.toFixed(1), height: BH, class: 'ccass-bar' });
      bar.append(el('title', {}, h.participantName + ': ' + fmt(h.shareholding, 0) + ' shares'));
      svg.append(bar);
      svg.append(el('text', { x: L + w + 6, y: y + BH - 5 }, fmt(h.pctIssued, 2) + ' %'));
      const label = changeLabel(h);
      if (label) {
        svg.append(el('text', { x: W - 8, y: y + BH - 5, 'text-anchor': 'end', class: h.changeShares > 0 ? 'chg-up' : 'chg-down' }, label));
      }
    });
    svg.dataset.bars = String(holders.length);
  }

  async function showCharts() {
    const code = chartCode.value || codes()[0];
    if (!code) { say('give a stock code first', true); return; }
    try {
      const from = isoOf(fromIn, 'From'), to = isoOf(toIn, 'To');
      say('loading ' + code + '…');
      const q = 'code=' + encodeURIComponent(code);
      const [prices, ccass] = await Promise.all([
        getJson('/api/prices?' + q + '&from=' + from + '&to=' + to),
        getJson('/api/ccass?' + q + '&date=' + to),
      ]);
      if (prices.name) { names.set(code, prices.name); refreshChartChoices(); chartCode.value = code; }
      drawPrices(prices);
      drawCcass(ccass);
      say(code + ': ' + prices.rows.length + ' trading days, ' + (ccass.holders || []).length + ' CCASS holders');
    } catch (e) { say(e.message, true); }
  }
  $('show').addEventListener('click', showCharts);
  chartCode.addEventListener('change', showCharts);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const sheets = [...form.querySelectorAll('input[name=sheets]:checked')].map((i) => i.value);
    const button = $('download');
    try {
      const params = new URLSearchParams({ codes: codes().join(','), from: isoOf(fromIn, 'From'), to: isoOf(toIn, 'To') });
      if (sheets.length) params.set('sheets', sheets.join(','));
      button.disabled = true;
      // The server may first wait for a free export slot (another download running), then builds.
      say('asking the server for the workbook (it waits for a free export slot if another download is running)…');
      const res = await fetch('/export.xlsx?' + params, { headers: headers() });
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        throw new Error(body.message || ('HTTP ' + res.status));
      }
      const blob = await res.blob();
      const m = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') || '');
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = m ? m[1] : 'harbour.xlsx';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
      const unknown = res.headers.get('x-harbour-unknown-codes');
      say('downloaded ' + a.download + (unknown ? ' (unknown codes, listed on its Summary: ' + unknown + ')' : ''));
    } catch (e) { say(e.message, true); }
    finally { button.disabled = false; }
  });
  refreshChartChoices();
})();
`;

const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

/** The page's Content-Security-Policy: nothing from elsewhere, only this page's own script and style. */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const dmy = (iso: string) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;

/** The last Hong Kong trading day on or before `now` (its HK local date). */
export function lastHkTradingDay(
  now: Date = new Date(),
  calendar: TradingCalendar = createCalendar(),
): string {
  const today = localDate(now, 'Asia/Hong_Kong');
  return calendar.isTradingDay(today) ? today : calendar.previousTradingDay(today);
}

/** The page; `now` sets the default dates (the last HK trading day and one year before it). */
export function renderPage(opts: {
  tokenRequired: boolean;
  ccassTop: number;
  defaultSheets: readonly string[];
  now?: Date;
  /** The `market` setting's calendar (default: Hong Kong as is). */
  calendar?: TradingCalendar;
}): string {
  const checked = (k: string) => (opts.defaultSheets.includes(k) ? ' checked' : '');
  const to = lastHkTradingDay(opts.now, opts.calendar);
  // One year before `to` (29/02 → 01/03 of the year before).
  const from = addDays(`${Number(to.slice(0, 4)) - 1}${to.slice(4, 8)}01`, Number(to.slice(8, 10)) - 1);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Harbour: Excel export</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Harbour: HKEX prices and CCASS holdings to Excel</h1>
<form id="export-form">
  <label>Stock codes (comma-separated)
    <input id="codes" name="codes" placeholder="00700,00005" autocomplete="off" required>
  </label>
  <div class="lookup">
    <label>Find a stock by name or code
      <input id="lookup" placeholder="e.g. TENCENT or 700" autocomplete="off">
    </label>
    <ul id="suggestions" aria-label="matching stocks"></ul>
  </div>
  <label>From (dd/mm/yyyy) <input id="from" name="from" value="${dmy(from)}" placeholder="dd/mm/yyyy" inputmode="numeric" autocomplete="off"></label>
  <label>To (dd/mm/yyyy) <input id="to" name="to" value="${dmy(to)}" placeholder="dd/mm/yyyy" inputmode="numeric" autocomplete="off"></label>
  <fieldset><legend>Sheets</legend>
    <label><input type="checkbox" name="sheets" value="summary" checked disabled> Summary (always: as-of date, unknown codes)</label>
    <label><input type="checkbox" name="sheets" value="prices"${checked('prices')}> Daily prices (one sheet per stock)</label>
    <label><input type="checkbox" name="sheets" value="ccass"${checked('ccass')}> CCASS top ${opts.ccassTop} holders</label>
  </fieldset>
  <label>Access token${opts.tokenRequired ? ' (required by this server)' : ' (not needed here)'}
    <input id="token" type="password" autocomplete="off">
  </label>
  <label>Chart stock <select id="chart-code"></select></label>
  <div class="actions">
    <button type="button" id="show" class="secondary">Show charts</button>
    <button type="submit" id="download">Download workbook</button>
  </div>
</form>
<p id="status" role="status" aria-live="polite"></p>
<section><h2>Price and volume</h2><svg id="price-chart" viewBox="0 0 900 360" role="img" aria-label="close price line and volume bars"></svg></section>
<section><h2>CCASS top holders</h2><svg id="ccass-chart" viewBox="0 0 900 60" role="img" aria-label="largest CCASS participants"></svg></section>
<script>${SCRIPT}</script>
</body>
</html>`;
}
