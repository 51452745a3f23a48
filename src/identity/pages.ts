// The built-in issuer's few HTML pages: plain, self-contained, no scripts but the logout auto-submit,
// which is a file (LOGOUT_SCRIPT): the CSP allows no inline script.
const STYLE = `body{font-family:system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;place-items:center;min-height:100vh;margin:0}
main{background:#1e293b;padding:2rem;border-radius:12px;width:min(22rem,90vw);box-shadow:0 10px 30px #0006}
h1{font-size:1.25rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem;font-size:.875rem}
input{width:100%;box-sizing:border-box;padding:.6rem;border-radius:6px;border:1px solid #475569;background:#0f172a;color:inherit}
button{margin-top:1.25rem;width:100%;padding:.65rem;border:0;border-radius:6px;background:#6366f1;color:white;font-weight:600;cursor:pointer}
p.error{color:#fca5a5}a{color:#a5b4fc}`;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · Pulse</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

export function loginPage(options: { action: string; username?: string; error?: string }): string {
  const error = options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : '';
  return page(
    'Sign in',
    `<h1>Sign in to Pulse</h1>${error}
<form method="post" action="${escapeHtml(options.action)}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(options.username ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>`,
  );
}

export const LOGOUT_SCRIPT_PATH = '/identity/logout.js';
/** Submits the logout form with logout=yes as soon as the page loads. */
export const LOGOUT_SCRIPT = `var f=document.getElementById('op.logoutForm');var i=document.createElement('input');i.type='hidden';i.name='logout';i.value='yes';f.appendChild(i);f.submit();`;

/** `form` is oidc-provider's hidden logout form; submitting it with logout=yes ends the session. */
export function logoutPage(form: string): string {
  return page(
    'Sign out',
    `<h1>Signing out…</h1>${form}<button form="op.logoutForm" name="logout" value="yes">Sign out</button>
<script src="${LOGOUT_SCRIPT_PATH}"></script>`,
  );
}

/** `html` is trusted markup; `text` callers escape. */
export function messagePage(title: string, text: string, html = false): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${html ? text : escapeHtml(text)}</p>`);
}
