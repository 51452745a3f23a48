// The frame of every page: navigation for the signed-in role, the live-connection indicator, theme and
// sign-out. Role guards live here too: a page for another role says so instead of rendering blank.
import { useEffect, useState, type ReactNode } from 'react';
import { Link, NavLink, Outlet } from 'react-router';
import { isCustomer, signOut, useAuth } from '../lib/auth';
import type { Role } from '../lib/types';
import { useApiHealth } from '../lib/api';
import { useLive } from '../lib/live';

const CUSTOMER_NAV = [
  ['/', 'Dashboard'],
  ['/dashboards', 'Dashboards'],
  ['/devices', 'Devices'],
  ['/map', 'Map'],
  ['/jobs', 'Jobs'],
  ['/firmware', 'Firmware'],
  ['/alerts', 'Alerts'],
  ['/rules', 'Alert rules'],
  ['/integrations', 'Integrations'],
  ['/routes', 'Routes'],
  ['/deliveries', 'Deliveries'],
  ['/silences', 'Silences'],
] as const;
const OPERATOR_NAV = [
  ['/operator', 'Overview'],
  ['/operator/devices', 'All devices'],
  ['/operator/tenants', 'Tenants'],
  ['/operator/quarantine', 'Quarantine'],
  ['/operator/system', 'System'],
  ['/operator/silences', 'Silences'],
] as const;
const CUSTOMER_ADMIN_NAV = [
  ['/users', 'Users'],
  ['/api-keys', 'API keys'],
  ['/quarantine', 'Rejected messages'],
  ['/audit', 'Audit log'],
] as const;
const OPERATOR_ADMIN_NAV = [
  ['/operator/users', 'Users'],
  ['/operator/audit', 'Audit log'],
  ['/operator/settings', 'Settings'],
] as const;

function ThemeToggle() {
  const [darkMode, setDark] = useState(document.documentElement.classList.contains('dark'));
  return (
    <button
      className="btn-ghost"
      aria-label={darkMode ? 'Switch to light theme' : 'Switch to dark theme'}
      onClick={() => {
        document.documentElement.classList.toggle('dark', !darkMode);
        localStorage.setItem('pulse-theme', darkMode ? 'light' : 'dark');
        setDark(!darkMode);
        // Charts pick their theme when drawn.
        window.location.reload();
      }}
    >
      {darkMode ? '☀' : '☾'}
    </button>
  );
}

/** Whole seconds until `until`, updated every second while there is one. */
function useSecondsUntil(until: number | null): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (until === null) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [until]);
  return until === null ? 0 : Math.max(0, Math.ceil((until - now) / 1000));
}

/**
 * Live only while the socket is up and the API answers: a pending 429 (paused until Retry-After) or a failed
 * refresh means what the page shows may be old, and the header says so.
 */
function LiveIndicator() {
  const socket = useLive((s) => s.status);
  const { pausedUntil, failing } = useApiHealth();
  const retryIn = useSecondsUntil(pausedUntil);
  const status = socket !== 'live' ? socket : pausedUntil !== null ? 'paused' : failing ? 'stale' : 'live';
  const [tone, label] = {
    live: ['bg-emerald-500', 'Live'],
    connecting: ['bg-amber-500', 'Connecting…'],
    paused: ['bg-amber-500', `Stale · paused — retrying in ${retryIn} s`],
    stale: ['bg-amber-500', 'Stale · the last refresh failed'],
    offline: ['bg-rose-500', 'Offline'],
  }[status];
  return (
    <span className="flex items-center gap-1.5 text-xs text-slate-500" data-testid="live-status" data-status={status}>
      <span className={`h-2 w-2 rounded-full ${tone}`} aria-hidden />
      {label}
    </span>
  );
}

export function Layout() {
  const session = useAuth((s) => s.session)!;
  const [menuOpen, setMenuOpen] = useState(false);
  const items = isCustomer(session.role)
    ? [...CUSTOMER_NAV, ...(session.role === 'customer_admin' ? CUSTOMER_ADMIN_NAV : [])]
    : [...OPERATOR_NAV, ...(session.role === 'operator_admin' ? OPERATOR_ADMIN_NAV : [])];
  return (
    <div className="flex min-h-screen">
      {/* Beside the page from md up; on a phone a drawer the Menu button opens over it. */}
      <nav
        aria-label="Main"
        className={`${menuOpen ? 'fixed inset-y-0 left-0 z-40 block shadow-xl' : 'hidden'} w-52 shrink-0 border-r border-slate-200 bg-white p-3 md:static md:block md:shadow-none dark:border-slate-800 dark:bg-slate-900`}
        onClick={(event) => {
          if ((event.target as HTMLElement).closest('a')) setMenuOpen(false);
        }}
      >
        <div className="mb-4 px-2 text-lg font-bold text-indigo-600">◉ Pulse</div>
        <ul className="space-y-1">
          {items.map(([to, label]) => (
            <li key={to}>
              <NavLink
                to={to}
                end={to === '/' || to === '/operator'}
                className={({ isActive }) =>
                  `block rounded-md px-2 py-1.5 text-sm ${isActive ? 'bg-indigo-50 font-medium text-indigo-700 dark:bg-indigo-950 dark:text-indigo-300' : 'hover:bg-slate-100 dark:hover:bg-slate-800'}`
                }
              >
                {label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      {menuOpen && (
        <div className="fixed inset-0 z-30 bg-slate-950/40 md:hidden" aria-hidden onClick={() => setMenuOpen(false)} />
      )}
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="flex items-center justify-end gap-2 border-b border-slate-200 bg-white px-3 py-2 sm:gap-3 sm:px-4 dark:border-slate-800 dark:bg-slate-900">
          <button
            className="btn-ghost mr-auto md:hidden"
            aria-label="Menu"
            aria-expanded={menuOpen}
            onClick={() => setMenuOpen((open) => !open)}
          >
            ☰
          </button>
          <LiveIndicator />
          <span className="min-w-0 truncate text-sm" data-testid="whoami">
            <Link className="hover:underline" to="/profile" title="Your profile and password">
              {session.name}
            </Link>
            <span className="hidden sm:inline"> · {session.role}</span>
            {session.tenantId ? ` · ${session.tenantId}` : ''}
          </span>
          <ThemeToggle />
          <button className="btn-ghost" onClick={() => void signOut()}>
            Sign out
          </button>
        </header>
        <main className="min-w-0 flex-1 p-3 sm:p-4">
          <Outlet />
        </main>
      </div>
    </div>
  );
}

/** Renders the page only for the given roles; others read who it is for. */
export function RequireRole({
  roles,
  audience,
  children,
}: {
  roles: (role: Role) => boolean;
  /** Who the page is for, as a person reads it ("operators", "customer admins"). */
  audience: string;
  children: ReactNode;
}) {
  const role = useAuth((s) => s.session?.role);
  if (!role || !roles(role)) {
    return (
      <div role="alert" className="card max-w-xl">
        <h1 className="font-semibold">Not available for your role</h1>
        <p className="mt-1 text-sm text-slate-500">
          This page is for {audience}; your role is {role}.
        </p>
      </div>
    );
  }
  return <>{children}</>;
}
