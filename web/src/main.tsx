import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode, Suspense, lazy, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
import { Layout, RequireRole } from './components/Layout';
import { Skeleton } from './components/ui';
import { initAuth, isCustomer, isOperator, signIn, useAuth } from './lib/auth';
import { startLive } from './lib/live';
import { prefetchSharedDashboard } from './lib/shared-dashboard';
import './index.css';

const page = (load: () => Promise<{ default: React.ComponentType }>) => {
  const Component = lazy(load);
  return (
    <Suspense fallback={<Skeleton rows={6} />}>
      <Component />
    </Suspense>
  );
};
const customer = (load: () => Promise<{ default: React.ComponentType }>) => (
  <RequireRole roles={isCustomer} audience="customers">
    {page(load)}
  </RequireRole>
);
const operator = (load: () => Promise<{ default: React.ComponentType }>) => (
  <RequireRole roles={isOperator} audience="operators">
    {page(load)}
  </RequireRole>
);
const operatorAdmin = (load: () => Promise<{ default: React.ComponentType }>) => (
  <RequireRole roles={(role) => role === 'operator_admin'} audience="operator admins (operator_admin)">
    {page(load)}
  </RequireRole>
);

const customerAdmin = (load: () => Promise<{ default: React.ComponentType }>) => (
  <RequireRole roles={(role) => role === 'customer_admin'} audience="customer admins (customer_admin)">
    {page(load)}
  </RequireRole>
);

function Home() {
  const role = useAuth((s) => s.session?.role);
  return isOperator(role) ? <Navigate to="/operator" replace /> : customer(() => import('./pages/customer/Dashboard'));
}

// Created on first use, once sign-in is done: a router made at load time would keep the location it saw
// then (/app/callback) and send every deep link to the home page.
let router: ReturnType<typeof createBrowserRouter> | undefined;
const appRouter = () =>
  (router ??= createBrowserRouter(
    [
      // A wall screen: the dashboard alone, without the navigation around pages.
      {
        path: '/kiosk/dashboards/:dashboardId',
        element: customer(() =>
          import('./pages/customer/DashboardsView').then((page) => ({ default: () => <page.default kiosk /> })),
        ),
      },
      {
        element: <Layout />,
        children: [
          { path: '/', element: <Home /> },
          { path: '/callback', element: <Navigate to="/" replace /> },
          { path: '/devices', element: customer(() => import('./pages/customer/Devices')) },
          { path: '/devices/:deviceId', element: customer(() => import('./pages/customer/DeviceDetail')) },
          { path: '/map', element: customer(() => import('./pages/customer/FleetMap')) },
          { path: '/dashboards', element: customer(() => import('./pages/customer/Dashboards')) },
          { path: '/dashboards/:dashboardId', element: customer(() => import('./pages/customer/DashboardsView')) },
          { path: '/jobs', element: customer(() => import('./pages/customer/Jobs')) },
          { path: '/jobs/:jobId', element: customer(() => import('./pages/customer/JobDetail')) },
          { path: '/firmware', element: customer(() => import('./pages/customer/Firmware')) },
          { path: '/alerts', element: customer(() => import('./pages/customer/Alerts')) },
          { path: '/alerts/:alertId', element: customer(() => import('./pages/customer/AlertDetail')) },
          { path: '/deliveries', element: customer(() => import('./pages/customer/Deliveries')) },
          { path: '/audit', element: customerAdmin(() => import('./pages/customer/AuditLog')) },
          { path: '/api-keys', element: customerAdmin(() => import('./pages/customer/ApiKeys')) },
          { path: '/quarantine', element: customerAdmin(() => import('./pages/customer/Quarantine')) },
          { path: '/rules', element: customer(() => import('./pages/customer/Rules')) },
          { path: '/integrations', element: customer(() => import('./pages/customer/Integrations')) },
          { path: '/routes', element: customer(() => import('./pages/customer/Routes')) },
          { path: '/silences', element: customer(() => import('./pages/customer/Silences')) },
          { path: '/users', element: customerAdmin(() => import('./pages/Users')) },
          { path: '/operator', element: operator(() => import('./pages/operator/Overview')) },
          { path: '/operator/devices', element: operator(() => import('./pages/operator/AllDevices')) },
          { path: '/operator/tenants', element: operator(() => import('./pages/operator/Tenants')) },
          { path: '/operator/tenants/:tenantId', element: operator(() => import('./pages/operator/TenantDetail')) },
          {
            path: '/operator/tenants/:tenantId/devices/:deviceId',
            element: operator(() => import('./pages/operator/OperatorDevice')),
          },
          { path: '/operator/quarantine', element: operator(() => import('./pages/operator/Quarantine')) },
          { path: '/operator/system', element: operator(() => import('./pages/operator/System')) },
          { path: '/operator/audit', element: operatorAdmin(() => import('./pages/operator/AuditLog')) },
          {
            path: '/operator/silences',
            element: operator(() =>
              import('./pages/customer/Silences').then((page) => ({ default: () => <page.default operator /> })),
            ),
          },
          { path: '/operator/settings', element: operatorAdmin(() => import('./pages/operator/Settings')) },
          { path: '/operator/users', element: operatorAdmin(() => import('./pages/Users')) },
          { path: '/profile', element: page(() => import('./pages/Profile')) },
          { path: '*', element: <p className="text-sm">Page not found.</p> },
        ],
      },
    ],
    { basename: '/app' },
  ));

const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 5_000 } },
});

/** A dashboard's share link is read without signing in. */
const SHARED_PATH = '/app/shared/';
let sharedRouter: ReturnType<typeof createBrowserRouter> | undefined;
const sharedDashboardRouter = () => {
  if (!sharedRouter) {
    const [token = ''] = window.location.pathname.slice(SHARED_PATH.length).split('/');
    // A mangled link (a stray %) is left to the page, which says it is not found.
    const decoded = (() => {
      try {
        return decodeURIComponent(token);
      } catch {
        return undefined;
      }
    })();
    if (decoded) prefetchSharedDashboard(queryClient, decoded, new URLSearchParams(window.location.search));
  }
  return (sharedRouter ??= createBrowserRouter(
    [{ path: '/shared/:token', element: page(() => import('./pages/customer/DashboardsShared')) }],
    { basename: '/app' },
  ));
};

function App() {
  const { session, ready, error, signInAt } = useAuth();
  useEffect(() => {
    if (session) startLive();
  }, [session]);
  if (window.location.pathname.startsWith(SHARED_PATH))
    return (
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={sharedDashboardRouter()} />
      </QueryClientProvider>
    );
  if (!ready)
    return (
      <div className="p-8">
        <Skeleton rows={4} />
      </div>
    );
  if (error)
    return (
      <div className="p-8 text-rose-600" role="alert">
        {error}
      </div>
    );
  if (signInAt)
    return (
      <div className="p-8 text-sm" role="alert">
        Sign-in does not work at this address ({window.location.host}). Open{' '}
        <a className="text-indigo-600 hover:underline" href={signInAt}>
          {signInAt}
        </a>{' '}
        instead, or start Pulse with PUBLIC_URL set to this address.
      </div>
    );
  if (!session) {
    return (
      <div className="grid min-h-screen place-items-center">
        <div className="card w-80 text-center">
          <div className="mb-2 text-2xl font-bold text-indigo-600">◉ Pulse</div>
          <p className="mb-4 text-sm text-slate-500">IoT fleet monitoring</p>
          <button className="btn-primary w-full justify-center" onClick={() => void signIn()}>
            Sign in
          </button>
        </div>
      </div>
    );
  }
  return (
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={appRouter()} />
    </QueryClientProvider>
  );
}

// A share link needs no sign-in (and must not start one).
if (!window.location.pathname.startsWith(SHARED_PATH)) void initAuth();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
