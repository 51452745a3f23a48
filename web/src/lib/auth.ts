// Sign-in with whatever OIDC issuer the server uses (built-in or external), read from /api/auth/config at
// run time: authorization code + PKCE through oidc-client-ts, tokens refreshed before they expire (the
// issuer rotates refresh tokens: each is good for one refresh).
//
// Tokens live in memory only, out of reach of anything that reads storage. A reload loses them, so a tab
// that was signed in goes back through the issuer, whose session cookie signs it in again without a
// password, and lands on the page it was on.
import { InMemoryWebStorage, UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import { create } from 'zustand';
import type { Role } from './types';

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
  /** Where to open the app instead: the issuer cannot return to this address. */
  signInAt: string | null;
}

export const useAuth = create<AuthState>(() => ({ session: null, ready: false, error: null, signInAt: null }));

let manager: UserManager | undefined;

/** Set while this tab is signed in: not a credential, only a reason to ask the issuer again after a reload. */
const SIGNED_IN = 'pulse-signed-in';

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
      app_origins?: string[];
    };
    const origin = window.location.origin;
    // The built-in issuer returns only to addresses it knows; elsewhere the sign-in would end on its error.
    if (config.app_origins && !config.app_origins.includes(origin)) {
      useAuth.setState({ ready: true, signInAt: `${config.app_origins[0]}/app/` });
      return;
    }
    manager = new UserManager({
      authority: config.authority,
      client_id: config.client_id,
      scope: config.scope,
      redirect_uri: `${origin}/app/callback`,
      post_logout_redirect_uri: `${origin}/app/`,
      automaticSilentRenew: true,
      userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
      // The access token is for the API: the id token alone decides nothing here.
      loadUserInfo: false,
    });
    manager.events.addUserLoaded((user) => useAuth.setState({ session: toSession(user) }));
    manager.events.addUserUnloaded(() => useAuth.setState({ session: null }));
    manager.events.addSilentRenewError(() => useAuth.setState({ session: null }));
    if (window.location.pathname === '/app/callback') {
      const user = await manager.signinRedirectCallback().catch((error: unknown) => {
        sessionStorage.removeItem(SIGNED_IN);
        throw error;
      });
      const target = (user.state as string | undefined) ?? '/app/';
      window.history.replaceState(null, '', target);
      sessionStorage.setItem(SIGNED_IN, '1');
      useAuth.setState({ session: toSession(user), ready: true });
      return;
    }
    if (sessionStorage.getItem(SIGNED_IN)) {
      sessionStorage.removeItem(SIGNED_IN); // once: a failed round trip ends on the sign-in button
      await signIn();
      return;
    }
    useAuth.setState({ session: null, ready: true });
  } catch (error) {
    useAuth.setState({ ready: true, error: `Sign-in is not available: ${(error as Error).message}` });
  }
}

export const signIn = () => manager?.signinRedirect({ state: window.location.pathname + window.location.search });
export const signOut = async () => {
  sessionStorage.removeItem(SIGNED_IN);
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
