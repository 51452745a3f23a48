// Real delivery targets on 127.0.0.1: an HTTP webhook receiver, an SMTP server (STARTTLS, auth) and an
// SNMP trap receiver (v2c community and v3 users).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import snmp from 'net-snmp';
import { SMTPServer } from 'smtp-server';

export interface ReceivedRequest {
  method: string;
  /** Path and query, as requested. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  at: number;
}

export async function startWebhookReceiver(
  answer: (request: ReceivedRequest, index: number) => number = () => 200,
  delayMs = 0,
) {
  const received: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        json: safeJson(body),
        at: Date.now(),
      };
      received.push(request);
      res.statusCode = answer(request, received.length - 1);
      setTimeout(() => res.end('{}'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const safeJson = (text: string) => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  user: string | undefined;
  secure: boolean;
}

/** `secure`: implicit TLS from the first byte (port 465 style) instead of STARTTLS. */
export async function startSmtpReceiver(credentials: { user: string; pass: string }, secure = false) {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    secure,
    authOptional: false,
    // smtp-server's built-in self-signed certificate serves STARTTLS.
    onAuth(auth, _session, callback) {
      if (auth.username === credentials.user && auth.password === credentials.pass)
        callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          user: session.user as string | undefined,
          secure: session.secure,
        });
        callback();
      });
    },
    logger: false,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ReceivedTrap {
  varbinds: { oid: string; value: unknown }[];
  version: number;
}

export async function startSnmpReceiver(options: { community: string; users: snmp.User[] }) {
  const received: ReceivedTrap[] = [];
  const errors: string[] = [];
  const port = 20000 + Math.floor(Math.random() * 20000);
  const receiver = snmp.createReceiver(
    { port, address: '127.0.0.1', disableAuthorization: false },
    (error: Error | null, notification: any) => {
      if (error) errors.push(error.message);
      else
        received.push({
          version: notification.pdu.type,
          varbinds: notification.pdu.varbinds.map((v: { oid: string; value: unknown }) => ({
            oid: v.oid,
            value: Buffer.isBuffer(v.value) ? v.value.toString() : v.value,
          })),
        });
    },
  );
  receiver.getAuthorizer().addCommunity(options.community);
  for (const user of options.users) receiver.getAuthorizer().addUser(user);
  return { port, received, errors, close: () => new Promise<void>((resolve) => receiver.close(() => resolve())) };
}

/** A URL on 127.0.0.1 where nothing listens: every connection is refused (ECONNREFUSED). */
export async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}
