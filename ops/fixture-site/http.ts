/** The fixture site's HTTP plumbing: reading a request body and sending a whole answer. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';

export const HTML = 'text/html; charset=utf-8';

/** The request body as text; more than `limit` bytes is refused (RequestTooLarge). */
export async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > limit) throw new HarbourError(ErrorCodes.RequestTooLarge, 'request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends the whole answer with its length; a response whose socket is gone is left alone. */
export function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra?: Record<string, string>,
) {
  if (res.destroyed) return;
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(buf.length), ...extra });
  res.end(buf);
}

export const NOT_FOUND = `<!DOCTYPE html>
<html lang="en"><head><title>404 - Page Not Found | HKEX</title></head>
<body><div class="error-page"><h1>404</h1><p>Sorry, the page you requested could not be found.</p></div></body></html>
`;

export function errorBody(status: number): string {
  return `<!DOCTYPE html><html><head><title>${status} Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>HTTP Error ${status}. The service is unavailable.</p></body></html>\n`;
}
