/** An SMTP server for reporter tests: every mail it accepts is parsed and handed to the test. */
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

export interface SmtpSink {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts an SMTP server on a free loopback port with `options` (authentication, TLS); `onMail`
 * gets each mail, parsed, and the server answers its DATA `delayMs` later (default at once), so a
 * test can kill the sender between the server's acceptance and the sender's bookkeeping.
 */
export async function startSmtpSink(
  options: Omit<SMTPServerOptions, 'onData'>,
  onMail: (mail: ParsedMail, session: SMTPServerSession) => void,
  delayMs = 0,
): Promise<SmtpSink> {
  const smtp = new SMTPServer({
    logger: false,
    ...options,
    onData(stream, session, cb) {
      simpleParser(stream).then(
        (mail) => {
          onMail(mail, session);
          if (delayMs > 0) setTimeout(() => cb(), delayMs);
          else cb();
        },
        (err: Error) => cb(err),
      );
    },
  });
  // A connection reset by a sender the test kills -9 mid-mail reaches the server as 'error' (it
  // re-emits connection errors): expected here, and without a listener it crashed the test process
  // with an uncaught `read ECONNRESET` (seen once in CI of the reporter reliability test).
  smtp.on('error', () => {});
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  return {
    port: (smtp.server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => smtp.close(() => resolve())),
  };
}
