// Sign-in with whatever OIDC issuer the server uses (built-in or external), read from /api/auth/config at
// run time: authorization code + PKCE through oidc-client-ts, tokens refreshed before they expire.
import { UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import { create } from 'zustand';

export type Role = 'customer_viewer' | 'customer_admin' | 'operator' | 'operator_admin';

export interface Session {
  token: string;
  role: Role;
  tenantId: string | null;
  name: string;
  expiresAt: number;
}

interface AuthState {
  session: Session | null;
  ready: boolean;
  error: string | null;
}

export const useAuth = create<AuthState>(() => ({ session: null, ready: false, error: null }));

let manager: UserManager | undefined;

function claims(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
}

function toSession(user: User): Session | null {
  if (user.expired) return null;
  const access = claims(user.access_token);
  return {
    token: user.access_token,
    role: access.role as Role,
    tenantId: (access.tenant_id as string | undefined) ?? null,
    name:
      (access.preferred_username as string | undefined) ?? (access.email as string | undefined) ?? String(access.sub),
    expiresAt: (user.expires_at ?? 0) * 1000,
  };
}

export async function initAuth(): Promise<void> {
  try {
    const config = (await (await fetch('/api/auth/config')).json()) as {
      authority: string;
      client_id: string;
      scope: string;
    };
    const origin = window.location.origin;
    manager = new UserManager({
      authority: config.authority,
      client_id: config.client_id,
      scope: config.scope,
      redirect_uri: `${origin}/app/callback`,
      post_logout_redirect_uri: `${origin}/app/`,
      automaticSilentRenew: true,
      userStore: new WebStorageStateStore({ store: window.sessionStorage }),
      // The access token is for the API: the id token alone decides nothing here.
      loadUserInfo: false,
    });
    manager.events.addUserLoaded((user) => useAuth.setState({ session: toSession(user) }));
    manager.events.addUserUnloaded(() => useAuth.setState({ session: null }));
    manager.events.addSilentRenewError(() => useAuth.setState({ session: null }));
    if (window.location.pathname === '/app/callback') {
      const user = await manager.signinRedirectCallback();
      const target = (user.state as string | undefined) ?? '/app/';
      window.history.replaceState(null, '', target);
      useAuth.setState({ session: toSession(user), ready: true });
      return;
    }
    const user = await manager.getUser();
    useAuth.setState({ session: user ? toSession(user) : null, ready: true });
  } catch (error) {
    useAuth.setState({ ready: true, error: `Sign-in is not available: ${(error as Error).message}` });
  }
}

export const signIn = () => manager?.signinRedirect({ state: window.location.pathname + window.location.search });
export const signOut = async () => {
  const user = await manager?.getUser();
  await manager?.removeUser();
  await manager?.signoutRedirect({ id_token_hint: user?.id_token });
};
/** The current access token, refreshed first if it is about to expire. */
export async function accessToken(): Promise<string | undefined> {
  const session = useAuth.getState().session;
  if (session && session.expiresAt - Date.now() > 30_000) return session.token;
  const user = await manager?.signinSilent().catch(() => null);
  return user?.access_token;
}

export const isCustomer = (role: Role | undefined) => role === 'customer_viewer' || role === 'customer_admin';
export const isOperator = (role: Role | undefined) => role === 'operator' || role === 'operator_admin';
