import { dmy } from '../gold/index.ts';
import type { ReportSettings } from './config.ts';
import type { AlertEvent, ReportData, StockDay } from './data.ts';

/** An email ready for nodemailer (attachments added by the caller). */
export interface MailContent {
  subject: string;
  html: string;
  text: string;
}

export interface DqStatus {
  ok: boolean;
  issues: string[];
}

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

export function num(v: number | null | undefined, decimals = 0, signed = false): string {
  if (v === null || v === undefined) return '–';
  const s = v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  return signed && v > 0 ? `+${s}` : s;
}

const label = (code: string, name: string | null) => (name ? `${code} ${name}` : code);

/** Data-quality verdict: stale datasets (lag) and short days (rows ÷ expected). */
export function dqStatus(
  data: ReportData,
  settings: Pick<ReportSettings, 'staleAfterHours' | 'minRowRatio'>,
): DqStatus {
  const issues: string[] = [];
  for (const f of data.freshness) {
    if (f.latestAsOf === null) issues.push(`${f.dataset}: never loaded`);
    else if (f.lagSeconds !== null && f.lagSeconds > settings.staleAfterHours * 3600) {
      issues.push(
        `${f.dataset}: stale, ${num(f.lagSeconds / 3600, 1)} h behind (as of ${dmy(f.latestAsOf)})`,
      );
    }
  }
  for (const c of data.rowCounts) {
    if (c.ratio !== null && c.ratio < settings.minRowRatio) {
      issues.push(`${c.dataset}: ${num(c.rows)} of ${num(c.expected)} expected rows on ${dmy(c.asOf)}`);
    }
  }
  if (!data.freshness.length) issues.push('no freshness figures yet (gold.dq_freshness is empty)');
  return { ok: issues.length === 0, issues };
}

const CELL = 'padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:right;white-space:nowrap';
const CELL_L = 'padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:left';
const HEAD = 'padding:4px 10px;border-bottom:2px solid #8ea9db;text-align:right;background:#d9e1f2';
const HEAD_L = `${HEAD};text-align:left`;
const red = (v: number | null) =>
  v !== null && v < 0 ? 'color:#c00000;' : v !== null && v > 0 ? 'color:#1e7a44;' : '';

function table(headers: string[], rows: TableRow[], leftColumns = 1): string {
  const th = headers.map((h, i) => `<th style="${i < leftColumns ? HEAD_L : HEAD}">${esc(h)}</th>`).join('');
  const tr = rows
    .map(
      (r) =>
        `<tr>${r.cells.map((c, i) => `<td style="${(r.styles?.[i] ?? '') + (i < leftColumns ? CELL_L : CELL)}">${esc(c)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<table style="border-collapse:collapse;font-size:13px;margin:6px 0 18px">\n<tr>${th}</tr>\n${tr}\n</table>`;
}

function textTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A table row: its cells as shown, and a CSS prefix per cell (colour) for the HTML table. */
interface TableRow {
  cells: string[];
  styles?: string[];
}

/** The report's tables, each row shown in both the HTML and the text part (moves: HTML only). */
interface ReportTables {
  movers: TableRow[];
  dvLeaders: TableRow[];
  concentration: TableRow[];
  moves: TableRow[];
  freshness: TableRow[];
  rowCounts: TableRow[];
}

/** The daily report: subject, HTML and text of the same tables. */
export function renderReport(
  data: ReportData,
  settings: ReportSettings,
  dq: DqStatus,
  workbookName?: string,
): MailContent {
  const known = data.stocks.filter((s) => s.date !== null);
  const tables: ReportTables = {
    movers: largest(known, (s) => s.changePct, settings.top).map(moverRow),
    dvLeaders: largest(known, (s) => s.dv30, settings.top).map((s) => ({
      cells: [label(s.code, s.name), num(s.dv30, 0, true), num(s.directedVolume, 0, true)],
      styles: ['', red(s.dv30), red(s.directedVolume)],
    })),
    concentration: data.concentration.slice(0, settings.top).map(concentrationRow),
    moves: data.moves.map((m) => ({
      cells: [
        label(m.code, m.name),
        m.participantId ? `${m.participantName} (${m.participantId})` : m.participantName,
        num(m.changeShares, 0, true),
        num(m.changePctIssued, 3, true),
      ],
      styles: ['', '', red(m.changeShares), red(m.changePctIssued)],
    })),
    freshness: data.freshness.map((f) => ({
      cells: [
        f.dataset,
        f.latestAsOf ? dmy(f.latestAsOf) : 'never',
        f.lagSeconds === null ? '–' : `${num(f.lagSeconds / 3600, 1)} h`,
      ],
      styles: [],
    })),
    rowCounts: data.rowCounts.map((c) => ({
      cells: [
        c.dataset,
        dmy(c.asOf),
        num(c.rows),
        num(c.expected),
        c.ratio === null ? '–' : `${num(c.ratio * 100, 1)} %`,
      ],
      styles: ['', '', '', '', c.ratio !== null && c.ratio < settings.minRowRatio ? 'color:#c00000;' : ''],
    })),
  };
  const dqWord = dq.ok
    ? 'data quality OK'
    : `data quality: ${dq.issues.length} ${dq.issues.length === 1 ? 'issue' : 'issues'}`;
  return {
    subject: `${settings.subjectPrefix} daily report ${dmy(data.date)}: ${data.stocks.length} stocks, ${dqWord}`,
    html: reportHtml(data, settings, dq, tables, workbookName),
    text: reportText(data, settings, dq, tables),
  };
}

/** The `top` stocks with a value, by its size (either sign), ties by code. */
function largest(stocks: StockDay[], value: (s: StockDay) => number | null, top: number): StockDay[] {
  return stocks
    .filter((s) => value(s) !== null)
    .sort((a, b) => Math.abs(value(b) ?? 0) - Math.abs(value(a) ?? 0) || a.code.localeCompare(b.code))
    .slice(0, top);
}

function moverRow(s: StockDay): TableRow {
  return {
    cells: [
      label(s.code, s.name),
      s.date ? dmy(s.date) : '–',
      num(s.close, 3),
      num(s.changePct, 2, true),
      num(s.volume),
      num(s.turnover),
    ],
    styles: ['', '', '', red(s.changePct)],
  };
}

function concentrationRow(c: ReportData['concentration'][number]): TableRow {
  const change = c.prevTop10Pct === null || c.top10Pct === null ? null : c.top10Pct - c.prevTop10Pct;
  return {
    cells: [
      label(c.code, c.name),
      dmy(c.date),
      num(c.top10Pct, 2),
      num(change, 2, true),
      num(c.participants),
    ],
    styles: ['', '', '', red(change)],
  };
}

function reportHtml(
  data: ReportData,
  settings: ReportSettings,
  dq: DqStatus,
  t: ReportTables,
  workbookName: string | undefined,
): string {
  const unknown = data.stocks.filter((s) => s.date === null).map((s) => s.code);
  return `<!doctype html>
<html><body style="font-family:Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2933">
<h1 style="font-size:20px">${esc(settings.subjectPrefix)} daily report, ${esc(dmy(data.date))}</h1>
<p>Watch list: ${esc(data.stocks.map((s) => label(s.code, s.name)).join(', '))}.${unknown.length ? ` No prices for ${esc(unknown.join(', '))}.` : ''}</p>
<p id="dq-status" style="font-weight:600;${dq.ok ? 'color:#1e7a44' : 'color:#c00000'}">${esc(dq.ok ? 'Data quality: OK' : `Data quality: ${dq.issues.length} issue(s)`)}</p>
${dq.ok ? '' : `<ul>${dq.issues.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`}
<h2 style="font-size:16px">Top movers</h2>
${t.movers.length ? table(['Stock', 'Date', 'Close', 'Change %', 'Volume', 'Turnover (HKD)'], t.movers) : '<p>No prices.</p>'}
<h2 style="font-size:16px">Directed-volume leaders (30 trading days)</h2>
${t.dvLeaders.length ? table(['Stock', '30-day directed volume', 'Day directed volume'], t.dvLeaders) : '<p>No directed volume.</p>'}
<h2 style="font-size:16px">CCASS concentration changes</h2>
${t.concentration.length ? table(['Stock', 'Holding date', 'Top-10 %', 'Change (pp)', 'Participants'], t.concentration) : '<p>No CCASS holdings.</p>'}
${t.moves.length ? `<h3 style="font-size:14px">Largest participant moves</h3>\n${table(['Stock', 'Participant', 'Change (shares)', 'Change (% of issued)'], t.moves, 2)}` : ''}
<h2 style="font-size:16px">Data quality</h2>
${table(['Dataset', 'Latest as of', 'Lag'], t.freshness)}
${t.rowCounts.length ? table(['Dataset', 'Date', 'Rows', 'Expected', 'Ratio'], t.rowCounts) : ''}
${workbookName ? `<p>The attached workbook <b>${esc(workbookName)}</b> has the watch list's prices${settings.sheets.includes('ccass') ? ' and CCASS holders' : ''}.</p>` : ''}
<p style="color:#7b8794;font-size:12px">Sent by Harbour. Figures from the gold tables; percentages of CCASS holdings are of issued shares.</p>
</body></html>`;
}

/** The plain-text part: each table under its title, a blank line between. */
function reportText(data: ReportData, settings: ReportSettings, dq: DqStatus, t: ReportTables): string {
  const section = (title: string, headers: string[], rows: TableRow[]) =>
    `${title}\n${textTable(
      headers,
      rows.map((r) => r.cells),
    )}`;
  return [
    `${settings.subjectPrefix} daily report, ${dmy(data.date)}`,
    '',
    dq.ok
      ? 'Data quality: OK'
      : `Data quality: ${dq.issues.length} issue(s)\n${dq.issues.map((i) => `  - ${i}`).join('\n')}`,
    '',
    section('Top movers', ['Stock', 'Date', 'Close', 'Change %', 'Volume', 'Turnover'], t.movers),
    '',
    section('Directed-volume leaders (30 trading days)', ['Stock', '30-day DV', 'Day DV'], t.dvLeaders),
    '',
    section(
      'CCASS concentration changes',
      ['Stock', 'Holding date', 'Top-10 %', 'Change pp', 'Participants'],
      t.concentration,
    ),
    '',
    section('Data quality', ['Dataset', 'Latest as of', 'Lag'], t.freshness),
    t.rowCounts.length ? section('', ['Dataset', 'Date', 'Rows', 'Expected', 'Ratio'], t.rowCounts) : '',
  ].join('\n');
}

/** One email per market event. */
export function renderAlert(e: AlertEvent, prefix: string): MailContent {
  const who = label(e.code, e.name);
  let headline: string;
  let facts: [string, string][];
  switch (e.rule) {
    case 'ccass_move': {
      const participant = e.participantId ? `${e.participantName} (${e.participantId})` : e.participantName;
      headline = `${who} CCASS: ${participant} ${num(e.changePctIssued, 2, true)} % of issued shares on ${dmy(e.date)}`;
      facts = [
        ['Participant', participant],
        ['Holding date', `${dmy(e.date)} (previous ${dmy(e.prevDate)})`],
        ['Change (shares)', num(e.changeShares, 0, true)],
        ['Change (% of issued shares)', num(e.changePctIssued, 3, true)],
        ['Shareholding now', num(e.shareholding)],
      ];
      break;
    }
    case 'month_high':
    case 'month_low': {
      const up = e.rule === 'month_high';
      const level =
        e.levelFrom === 'previous_month'
          ? `last month's ${up ? 'high' : 'low'}`
          : `the month ${up ? 'high' : 'low'}`;
      headline = `${who} closed at ${num(e.close, 3)} ${up ? 'above' : 'below'} ${level} ${num(e.level, 3)} on ${dmy(e.date)}`;
      facts = [
        ['Date', dmy(e.date)],
        ['Close', num(e.close, 3)],
        [
          up ? 'Month high broken' : 'Month low broken',
          `${num(e.level, 3)} (${e.levelFrom === 'previous_month' ? 'previous month' : 'month to date'})`,
        ],
      ];
      break;
    }
    case 'dv_sign': {
      const dir = e.dv30 > 0 ? 'positive' : 'negative';
      headline = `${who} 30-day directed volume turned ${dir} (${num(e.dv30, 0, true)}) on ${dmy(e.date)}`;
      facts = [
        ['Date', dmy(e.date)],
        ['30-day directed volume', num(e.dv30, 0, true)],
        [`Previous (${dmy(e.prevDate)})`, num(e.prevDv30, 0, true)],
      ];
      break;
    }
  }
  const subject = `${prefix} alert: ${headline}`;
  const rows = facts.map(([k, v]) => ({ cells: [k, v] }));
  const html = `<!doctype html>
<html><body style="font-family:Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2933">
<h1 style="font-size:18px">${esc(headline)}</h1>
${table(['', ''], rows)}
<p style="color:#7b8794;font-size:12px">Alert rule <code>${esc(e.rule)}</code>, event ${esc(e.key)}. Harbour sends each event once.</p>
</body></html>`;
  const text = `${headline}\n\n${facts.map(([k, v]) => `${k}: ${v}`).join('\n')}\n\nAlert rule ${e.rule}, event ${e.key}.`;
  return { subject, html, text };
}
