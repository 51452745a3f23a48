// Email through the integration's SMTP server (STARTTLS, implicit TLS or plain; auth when configured),
// connected to the checked address with the server's name kept for TLS. Subject and body come from the
// templates with {variables}; in HTML every value is escaped.
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import type { EmailTarget, SendResult } from './target.js';
import { noticeLabel, type AlertPayload } from './payload.js';
import { resolveDestination, SsrfError } from '../lib/ssrf.js';
import { escapeHtml, render, templateValues } from './template.js';
import { errorText, type SendContext } from './context.js';

export const DEFAULT_SUBJECT = '[{severity_label}] {title}: {device_id}';

const DEFAULT_TEXT = `ALERT {event}: {title} ({alert_type})

Device: {device_id}
Site: {site_id}
Severity: {severity_label} ({severity})
Message: {summary}
Time: {timestamp}
Alert ID: {alert_id}

--
This alert was sent by Pulse.`;

const DEFAULT_HTML = `<div style="font-family:system-ui,sans-serif;max-width:560px">
<h2 class="severity-{severity_lower}">{title} — {event}</h2>
<p>{alert_type}</p>
<table cellpadding="4">
<tr><th align="left">Device</th><td>{device_id}</td></tr>
<tr><th align="left">Site</th><td>{site_id}</td></tr>
<tr><th align="left">Severity</th><td>{severity_label} ({severity})</td></tr>
<tr><th align="left">Message</th><td>{summary}</td></tr>
<tr><th align="left">Time</th><td>{timestamp}</td></tr>
<tr><th align="left">Alert ID</th><td>{alert_id}</td></tr>
</table>
<p style="color:#666">This alert was sent by Pulse.</p></div>`;

export function composeEmail(target: EmailTarget, payload: AlertPayload) {
  const values = templateValues(payload);
  const marker = noticeLabel(payload.notice);
  // One line; a field left empty at the end (an alert of no device: INTEGRATION_FAILING) leaves no ": ".
  const subject = `${marker ? `[${marker}] ` : ''}${render(target.subject_template || DEFAULT_SUBJECT, values)}`
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\s:·-]+$/, '');
  const text = render(target.format === 'text' && target.body_template ? target.body_template : DEFAULT_TEXT, values);
  const html = target.format === 'html' ? render(target.body_template || DEFAULT_HTML, values, escapeHtml) : undefined;
  return { subject, text, html };
}

export async function sendEmail(target: EmailTarget, payload: AlertPayload, ctx: SendContext): Promise<SendResult> {
  const destination = `${target.to.length + target.cc.length + target.bcc.length} recipients`;
  let address: string;
  try {
    address = (await resolveDestination(target.smtp_host, ctx.allowlist, ctx.resolver)).address;
  } catch (error) {
    return {
      ok: false,
      error: error instanceof SsrfError ? `smtp_host_blocked:${error.reason}` : errorText(error),
      destination,
    };
  }
  const transport = nodemailer.createTransport({
    host: address,
    port: target.smtp_port,
    secure: target.smtp_tls === 'implicit',
    requireTLS: target.smtp_tls === 'starttls',
    ignoreTLS: target.smtp_tls === 'none',
    ...(target.smtp_user && { auth: { user: target.smtp_user, pass: target.smtp_password ?? '' } }),
    // The certificate is checked against the name, not the pinned address (SNI takes names only).
    tls: {
      ...(isIP(target.smtp_host) === 0 && { servername: target.smtp_host }),
      rejectUnauthorized: target.tls_verify,
    },
    connectionTimeout: ctx.timeoutMs,
    greetingTimeout: ctx.timeoutMs,
    socketTimeout: ctx.timeoutMs,
    name: 'pulse',
  });
  try {
    const { subject, text, html } = composeEmail(target, payload);
    await transport.sendMail({
      from: { name: target.from_name, address: target.from_address },
      to: target.to,
      cc: target.cc,
      bcc: target.bcc,
      subject,
      text,
      ...(html !== undefined && { html }),
    });
    return { ok: true, destination };
  } catch (error) {
    return { ok: false, error: errorText(error), destination };
  } finally {
    transport.close();
  }
}
