import { CookieJar as ToughCookieJar } from 'tough-cookie';

/**
 * The client's cookie jar: enough for ASP.NET session/form flows (CCASS sets `ASP.NET_SessionId` on
 * the GET that must come back on the POST), not a browser. Parsing, `Path` (RFC 6265 default-path
 * and path-match), `Max-Age`, `Expires`, `Secure` (a Secure cookie set over plain http is dropped,
 * RFC 6265bis), the `Domain` check and the public-suffix list are tough-cookie's.
 *
 * Host-only rule (Harbour's, on top of RFC 6265): cookies are kept per request hostname, one
 * tough-cookie jar each. A `Domain` attribute is only checked (a cookie for a domain the host does
 * not belong to is dropped); the cookie is not shared with sibling or sub-domains, so one HKEX host
 * never sees another's session.
 */
export class CookieJar {
  private readonly byHost = new Map<string, ToughCookieJar>();

  /** Stores the `Set-Cookie` header(s) of a response to `url`; malformed or foreign cookies are dropped. */
  store(url: URL, setCookie: string | readonly string[] | undefined): void {
    if (setCookie === undefined) return;
    const lines = typeof setCookie === 'string' ? [setCookie] : setCookie;
    const host = url.hostname.toLowerCase();
    let jar = this.byHost.get(host);
    if (!jar) {
      jar = new ToughCookieJar();
      this.byHost.set(host, jar);
    }
    for (const line of lines) jar.setCookieSync(line, url.href, { ignoreError: true });
  }

  /** The `Cookie` header value for a request to `url`, or undefined when nothing applies. */
  header(url: URL): string | undefined {
    const jar = this.byHost.get(url.hostname.toLowerCase());
    const value = jar?.getCookieStringSync(url.href);
    return value ? value : undefined;
  }

  /** Forgets every cookie (or those of one hostname). */
  clear(hostname?: string): void {
    if (hostname === undefined) this.byHost.clear();
    else this.byHost.delete(hostname.toLowerCase());
  }
}
