/**
 * A deliberately small cookie jar: enough for ASP.NET session/form flows (CCASS sets
 * `ASP.NET_SessionId` on the GET that must come back on the POST), not a browser.
 *
 * - Cookies are kept per request hostname. A `Domain` attribute is only checked (a cookie for a domain
 *   the host does not belong to is dropped); the cookie is not shared with sibling/sub-domains.
 * - `Path` is honoured (RFC 6265 default-path and path-match), as are `Max-Age`, `Expires` and `Secure`.
 * - No public-suffix list, no SameSite, no size limits.
 */
interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** Epoch ms; undefined = session cookie (lives as long as the jar). */
  expiresAt: number | undefined;
  secure: boolean;
}

export class CookieJar {
  private readonly byHost = new Map<string, Map<string, StoredCookie>>();

  /** Stores the `Set-Cookie` header(s) of a response to `url`. */
  store(url: URL, setCookie: string | readonly string[] | undefined, now = Date.now()): void {
    if (setCookie === undefined) return;
    const lines = typeof setCookie === 'string' ? [setCookie] : setCookie;
    for (const line of lines) {
      const cookie = parseSetCookie(line, url, now);
      if (!cookie) continue;
      const host = url.hostname.toLowerCase();
      let cookies = this.byHost.get(host);
      if (!cookies) {
        cookies = new Map();
        this.byHost.set(host, cookies);
      }
      const key = `${cookie.name}\u0000${cookie.path}`;
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) cookies.delete(key);
      else cookies.set(key, cookie);
    }
  }

  /** The `Cookie` header value for a request to `url`, or undefined when nothing applies. */
  header(url: URL, now = Date.now()): string | undefined {
    const cookies = this.byHost.get(url.hostname.toLowerCase());
    if (!cookies) return undefined;
    const path = url.pathname || '/';
    const secure = url.protocol === 'https:';
    const matching: StoredCookie[] = [];
    for (const [key, cookie] of cookies) {
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) {
        cookies.delete(key);
        continue;
      }
      if (cookie.secure && !secure) continue;
      if (!pathMatches(path, cookie.path)) continue;
      matching.push(cookie);
    }
    if (matching.length === 0) return undefined;
    // RFC 6265 5.4: longer paths first; insertion order otherwise (stable sort).
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  /** Forgets every cookie (or those of one hostname). */
  clear(hostname?: string): void {
    if (hostname === undefined) this.byHost.clear();
    else this.byHost.delete(hostname.toLowerCase());
  }
}

function parseSetCookie(line: string, url: URL, now: number): StoredCookie | undefined {
  const [pair = '', ...attrs] = line.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  if (name === '') return undefined;
  let path: string | undefined;
  let maxAgeAt: number | undefined;
  let expiresAt: number | undefined;
  let secure = false;
  for (const attr of attrs) {
    const i = attr.indexOf('=');
    const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
    const val = i < 0 ? '' : attr.slice(i + 1).trim();
    switch (key) {
      case 'path':
        if (val.startsWith('/')) path = val;
        break;
      case 'max-age': {
        if (!/^-?\d+$/.test(val)) break;
        const seconds = Number(val);
        maxAgeAt = seconds <= 0 ? 0 : now + seconds * 1000;
        break;
      }
      case 'expires': {
        const t = Date.parse(val);
        if (!Number.isNaN(t)) expiresAt = t;
        break;
      }
      case 'secure':
        secure = true;
        break;
      case 'domain': {
        const domain = val.replace(/^\./, '').toLowerCase();
        const host = url.hostname.toLowerCase();
        if (domain !== '' && host !== domain && !host.endsWith(`.${domain}`)) return undefined;
        break;
      }
      default:
        break;
    }
  }
  return {
    name,
    value,
    path: path ?? defaultPath(url.pathname),
    expiresAt: maxAgeAt ?? expiresAt,
    secure,
  };
}

/** RFC 6265 5.1.4 default-path: the request path up to (not including) its last `/`, or `/`. */
function defaultPath(requestPath: string): string {
  if (!requestPath.startsWith('/')) return '/';
  const last = requestPath.lastIndexOf('/');
  return last <= 0 ? '/' : requestPath.slice(0, last);
}

/** RFC 6265 5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath.charAt(cookiePath.length) === '/';
}
