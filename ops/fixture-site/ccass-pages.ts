/**
 * CCASS shareholding search pages, rendered from the template derived from the real 00700 page
 * (see samples.ts): the empty search form, result pages, message outcomes (no data, invalid stock
 * code, date out of range), the maintenance page and the truncated capture.
 */
import { addDays } from './calendar.ts';
import { type CcassHolding, type CcassSnapshot, formatPct, pctHundredths } from './ccass-model.ts';
import { commas, escapeHtml, fill, parts } from './format.ts';
import type { CcassTemplate } from './samples.ts';

export interface FormTokens {
  viewState: string;
}

export type SortBy = 'shareholding' | 'participantid' | 'participantname';
export type SortDir = 'asc' | 'desc';

export interface FormState {
  tokens: FormTokens;
  /** Site's today (`yyyy-mm-dd`). */
  today: string;
  /** Earliest date the date picker offers (today − 1 year), or undefined for the default. */
  minDate?: string;
  sortBy: SortBy;
  sortDir: SortDir;
  /** Values echoed in the form. */
  dateYmd: string;
  code: string;
  name: string;
  alert?: string;
}

export const MESSAGES = {
  noData: 'No match record found.',
  invalidCode: 'The stock code entered is not valid. Please check and re-enter.',
  invalidDate: 'The shareholding date entered is not valid. Please enter the date in the format YYYY/MM/DD.',
  outOfRange:
    'The shareholding date entered is out of range. Please select a date within the past 12 months.',
} as const;

const VIEWSTATE_GENERATOR = 'A7B2BBE2';

export { VIEWSTATE_GENERATOR };

function pageVars(t: FormState): Record<string, string> {
  const ymdSlash = (iso: string) => iso.replaceAll('-', '/');
  const max = addDays(t.today, -1);
  const min = t.minDate ?? addDays(t.today, -365);
  const dmy = (() => {
    const iso = t.dateYmd.replaceAll('/', '-');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) return t.dateYmd;
    const { y, m, d } = parts(iso);
    return `${d}/${m}/${y}`;
  })();
  return {
    VIEWSTATE: t.tokens.viewState,
    TODAY: t.today.replaceAll('-', ''),
    SORTBY: t.sortBy,
    SORTDIR: t.sortDir,
    ALERT: t.alert ? ` value="${escapeHtml(t.alert)}"` : '',
    DATE_YMD: escapeHtml(t.dateYmd),
    DATE_DMY: escapeHtml(dmy),
    CODE: escapeHtml(t.code),
    NAME: escapeHtml(t.name),
    MAXDATE: ymdSlash(max),
    MINDATE: ymdSlash(min),
  };
}

function page(tpl: CcassTemplate, state: FormState, result: string): string {
  const vars = pageVars(state);
  return fill(tpl.pageHead, vars) + result + fill(tpl.pageTail, vars);
}

/** The empty search form (answer to GET). */
export function formPage(tpl: CcassTemplate, state: FormState): string {
  return page(tpl, state, '<div class="ccass-search-result">\n                    </div>');
}

/** A search that found nothing for the stock/date: empty summary panel, message in the detail panel. */
export function noDataPage(tpl: CcassTemplate, state: FormState): string {
  const result = `<div class="ccass-search-result">
                        <div id="pnlResultSummary">

</div>
                        <div id="pnlResultNormal">
                            <div class="ccass-search-noresult">${MESSAGES.noData}</div>
</div>
                    </div>`;
  return page(tpl, { ...state, alert: MESSAGES.noData }, result);
}

/** Invalid stock code / invalid or out-of-range date: no result panels, the message in `alertMsg` and shown. */
export function alertPage(tpl: CcassTemplate, state: FormState, message: string): string {
  const result = `<div class="ccass-search-result">
                        <div class="ccass-search-alert alert-message">${escapeHtml(message)}</div>
                    </div>`;
  return page(tpl, { ...state, alert: message }, result);
}

function sortRows(rows: CcassHolding[], by: SortBy, dir: SortDir): CcassHolding[] {
  const sign = dir === 'asc' ? 1 : -1;
  const out = rows.slice();
  out.sort((a, b) => {
    let c = 0;
    if (by === 'participantid') c = (a.id ?? '').localeCompare(b.id ?? '');
    else if (by === 'participantname') c = a.name.localeCompare(b.name);
    else c = a.shares - b.shares;
    return sign * c || a.order - b.order;
  });
  return out;
}

/** The result page of a successful search; `truncateTo` cuts the detail table like the DOM capture sample. */
export function resultPage(
  tpl: CcassTemplate,
  state: FormState,
  snap: CcassSnapshot,
  opts: { truncateTo?: number } = {},
): string {
  const g = [snap.intermediaries, snap.consenting, snap.nonConsenting, snap.total];
  const vars: Record<string, string> = { ISSUED: commas(snap.issued) };
  g.forEach((grp, k) => {
    vars[`S${k * 3}`] = commas(grp.shares);
    vars[`S${k * 3 + 1}`] = commas(grp.count);
    vars[`S${k * 3 + 2}`] = formatPct(grp.pctHundredths);
  });
  const rows = sortRows(snap.rows, state.sortBy, state.sortDir);
  const shown = opts.truncateTo === undefined ? rows : rows.slice(0, opts.truncateTo);
  const body = shown
    .map((r) =>
      fill(tpl.row, {
        ID: r.id ?? '',
        // the real page prints names and addresses raw (e.g. `TOWER 2 & 3`); only guard markup characters
        PNAME: r.name.replace(/</g, '&lt;'),
        ADDR: r.address.replace(/</g, '&lt;'),
        SH: commas(r.shares),
        PCT: formatPct(pctHundredths(r.shares, snap.issued)),
      }),
    )
    .join('');
  const head = fill(tpl.resultHead, vars);
  if (opts.truncateTo !== undefined) {
    const pageVarsState = pageVars(state);
    return `${fill(tpl.pageHead, pageVarsState)}${head}${body}${TRUNCATED_CLOSE}`;
  }
  return page(tpl, state, head + body + tpl.resultTail);
}

/** How the truncated DOM capture sample ends: the open elements closed right after the last row. */
export const TRUNCATED_CLOSE = '</tbody></table></div></div></div></div></main></div></form></body></html>';

/** Cuts an already rendered result page (e.g. the real sample) after `keep` detail rows. */
export function truncateHtml(html: string, keep: number): string {
  const open = html.indexOf('<tbody>');
  if (open < 0) return html;
  let idx = open;
  for (let k = 0; k < keep; k++) {
    const next = html.indexOf('</tr>', idx + 1);
    if (next < 0) return html;
    idx = next + '</tr>'.length;
  }
  if (keep === 0) idx = open + '<tbody>'.length;
  return html.slice(0, idx) + TRUNCATED_CLOSE;
}

/** The page shown while CCASS search is down for maintenance. */
export function maintenancePage(): string {
  return `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" class="news-hkex eng">
<head><title>
	CCASS Shareholding Search
</title><meta charset="UTF-8" /><link href="/ncms/css/main.css" rel="stylesheet" type="text/css" /></head>
<body>
    <div class="container content-container ccass-search-container">
        <main class="ccass-search">
            <div class="ccass-search-maintenance">
                <h2>System Maintenance</h2>
                <p>The CCASS Shareholding Search service is temporarily unavailable due to system maintenance. Please try again later.</p>
                <p>&#20013;&#22830;&#32080;&#31639;&#31995;&#32113;&#25345;&#32929;&#32000;&#37636;&#26597;&#35426;&#26381;&#21209;&#27491;&#36914;&#34892;&#31995;&#32113;&#32173;&#35703;&#65292;&#35531;&#31245;&#24460;&#20877;&#35430;&#12290;</p>
            </div>
        </main>
    </div>
</body>
</html>
`;
}

/** The ASP.NET error answer to a postback whose view state was not issued by this server. */
export function viewStateErrorPage(): string {
  return `<!DOCTYPE html>
<html>
    <head>
        <title>Validation of viewstate MAC failed.</title>
    </head>
    <body bgcolor="white">
            <span><H1>Server Error in '/' Application.<hr width=100% size=1 color=silver></H1>
            <h2> <i>Validation of viewstate MAC failed. If this application is hosted by a Web Farm or cluster, ensure that &lt;machineKey&gt; configuration specifies the same validationKey and validation algorithm. AutoGenerate cannot be used in a cluster.</i> </h2></span>
            <b> Exception Details: </b>System.Web.HttpException: Validation of viewstate MAC failed.<br><br>
            <b> Description: </b>An unhandled exception occurred during the execution of the current web request.<br><br>
    </body>
</html>
`;
}
