/**
 * The CCASS shareholding search (`searchsdw.aspx`): the ASP.NET form flow of the 2026 site. A GET
 * hands out the form with a fresh view state; a POST with a view state issued here either echoes
 * the form (no search button) or searches: the real sample for its stock and date, a generated
 * result page, or the alert or empty page the real site shows for a bad date, an unknown code, a
 * date out of range or a day without data.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { addDays, isIsoDate } from './calendar.ts';
import type { CcassModel } from './ccass-model.ts';
import {
  alertPage,
  type FormState,
  formPage,
  MESSAGES,
  maintenancePage,
  noDataPage,
  resultPage,
  type SortBy,
  type SortDir,
  truncateHtml,
  viewStateErrorPage,
} from './ccass-pages.ts';
import type { FaultSwitches } from './faults.ts';
import { HTML, readBody, send } from './http.ts';
import { CCASS_SAMPLE, type Samples } from './samples.ts';
import type { Stock } from './universe.ts';

/** What the search reads from the site. */
export interface CcassSearchDeps {
  samples: Samples;
  ccass: CcassModel;
  byCode: ReadonlyMap<string, Stock>;
  /** The site's today (HK date): nothing on or after it has data, the form shows it. */
  today: string;
  /** Shareholding dates more than this many days before today are "out of range"; undefined: none. */
  historyDays: number | undefined;
  faults: FaultSwitches;
  log?: Pick<Logger, 'warn'> | undefined;
}

function token(prefix: string, bytes: number): string {
  return prefix + randomBytes(bytes).toString('base64');
}

/**
 * View states issued by the form. The 2026 form has no __EVENTVALIDATION (09868 captures), so only
 * __VIEWSTATE is checked. What the real site answers to a postback with a foreign or missing view
 * state is unknown; SOURCES.md only says it then finds no results. Here: the ASP.NET error page.
 */
class TokenStore {
  private readonly issued = new Set<string>();
  constructor(private readonly max = 20_000) {}
  issue(): { viewState: string } {
    const viewState = token('/wEPDwUKLTEyNzc0NjI0MWRk', 24);
    this.issued.add(viewState);
    if (this.issued.size > this.max) {
      const first = this.issued.values().next().value;
      if (first !== undefined) this.issued.delete(first);
    }
    return { viewState };
  }
  valid(viewState: string | null): boolean {
    return viewState !== null && this.issued.has(viewState);
  }
}

/** The form's fields as the page echoes them back (the site adds a view state, today and the sort defaults). */
type Echo = Omit<FormState, 'tokens' | 'today' | 'sortBy' | 'sortDir'> & {
  sortBy?: SortBy;
  sortDir?: SortDir;
};

/** A postback's fields: what the page echoes, and what the search looks for. */
interface Postback {
  echo: Echo;
  /** The search button was pressed (otherwise the form is only shown again). */
  searching: boolean;
  /** As typed, `YYYY/MM/DD` when valid. */
  dateText: string;
  /** 5-digit when typed as digits, else as typed. */
  code: string;
  stock: Stock | undefined;
}

function readPostback(form: URLSearchParams, deps: CcassSearchDeps, defaultDate: string): Postback {
  const sortByRaw = (form.get('sortBy') ?? 'shareholding').toLowerCase();
  const sortBy: SortBy =
    sortByRaw === 'participantid' || sortByRaw === 'participantname' ? sortByRaw : 'shareholding';
  const sortDir: SortDir = (form.get('sortDirection') ?? 'desc').toLowerCase() === 'asc' ? 'asc' : 'desc';
  const dateText = (form.get('txtShareholdingDate') ?? '').trim();
  const codeText = (form.get('txtStockCode') ?? '').trim();
  const searching = form.get('__EVENTTARGET') === 'btnSearch' || form.has('btnSearch');
  const code = /^\d{1,5}$/.test(codeText) ? codeText.padStart(5, '0') : codeText;
  const stock = deps.byCode.get(code);
  const echo = { dateYmd: dateText || defaultDate, code, name: stock?.longName ?? '', sortBy, sortDir };
  return { echo, searching, dateText, code, stock };
}

/** Rows a truncated page keeps: `ratio` of `n`, always at least one fewer than all. */
function keepRows(n: number, ratio: number): number {
  return Math.max(0, Math.min(n - 1, Math.floor(n * ratio)));
}

/** The search page's handler; it keeps the view states it issued. */
export function ccassSearchRoute(
  deps: CcassSearchDeps,
): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> {
  const { samples, faults, today } = deps;
  const tpl = samples.ccassTemplate;
  const tokens = new TokenStore();
  const minDate = deps.historyDays === undefined ? undefined : addDays(today, -deps.historyDays);
  const state = (base: Echo): FormState => {
    const s: FormState = {
      tokens: tokens.issue(),
      today,
      sortBy: base.sortBy ?? 'shareholding',
      sortDir: base.sortDir ?? 'desc',
      dateYmd: base.dateYmd,
      code: base.code,
      name: base.name,
    };
    if (minDate !== undefined) s.minDate = minDate;
    if (base.alert !== undefined) s.alert = base.alert;
    return s;
  };

  /** The page a search answers with (the fault switch `truncate` cuts result pages short). */
  const searchPage = (asked: Postback, path: string): string | Buffer => {
    const { echo, code, stock } = asked;
    const dm = /^(\d{4})\/(\d{2})\/(\d{2})$/.exec(asked.dateText);
    const iso = dm ? `${dm[1]}-${dm[2]}-${dm[3]}` : '';
    if (!dm || !isIsoDate(iso)) return alertPage(tpl, state(echo), MESSAGES.invalidDate);
    if (!stock) return alertPage(tpl, state(echo), MESSAGES.invalidCode);
    if (minDate !== undefined && iso < minDate) return alertPage(tpl, state(echo), MESSAGES.outOfRange);
    if (code === CCASS_SAMPLE.code && iso === CCASS_SAMPLE.date) {
      const t = faults.take('truncate', path);
      if (!t) return samples.ccassSampleBytes;
      const n = samples.ccassParticipants.length;
      return truncateHtml(samples.ccassSampleBytes.toString('utf8'), keepRows(n, t.keepRatio));
    }
    const snap = iso >= today ? undefined : deps.ccass.snapshot(stock, iso);
    if (!snap) return noDataPage(tpl, state(echo));
    const t = faults.take('truncate', path);
    return resultPage(
      tpl,
      state(echo),
      snap,
      t ? { truncateTo: keepRows(snap.rows.length, t.keepRatio) } : {},
    );
  };

  return async (req, res, path) => {
    const sessionCookie = {
      'Set-Cookie': `ASP.NET_SessionId=${randomBytes(12).toString('hex')}; path=/; HttpOnly; SameSite=Lax`,
    };
    const body = req.method === 'POST' ? await readBody(req) : '';
    if (faults.take('maintenance', path)) return send(res, 200, HTML, maintenancePage());
    const defaultDate = addDays(today, -1).replaceAll('-', '/');
    if (req.method !== 'POST') {
      const html = formPage(tpl, state({ dateYmd: defaultDate, code: '', name: '' }));
      return send(res, 200, HTML, html, sessionCookie);
    }
    const form = new URLSearchParams(body);
    if (!tokens.valid(form.get('__VIEWSTATE'))) {
      deps.log?.warn({ path }, 'fixture site: CCASS postback with a view state not issued here');
      return send(res, 500, HTML, viewStateErrorPage());
    }
    const asked = readPostback(form, deps, defaultDate);
    if (!asked.searching) return send(res, 200, HTML, formPage(tpl, state(asked.echo)));
    return send(res, 200, HTML, searchPage(asked, path));
  };
}
