import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Session } from './api';
import { navigate, usePath } from './router';
import { Shell } from './shell';
import { SignIn } from './pages/SignIn';
import { Sites } from './pages/Sites';
import { NotFound } from './pages/NotFound';
import { SiteOverview } from './pages/SiteOverview';
import { Deployments } from './pages/Deployments';
import { SiteAnalytics } from './pages/SiteAnalytics';
import { TenantAnalytics } from './pages/TenantAnalytics';
import { Domains } from './pages/Domains';
import { SiteSettings } from './pages/SiteSettings';
import { Tenants } from './pages/Tenants';
import { TenantOverview } from './pages/TenantOverview';
import { Deploy } from './pages/Deploy';
import { Logs } from './pages/Logs';
import { DeploymentDetail } from './pages/DeploymentDetail';
import { Attention } from './pages/Attention';
import { AdminTokens } from './pages/AdminTokens';
import { KVNamespaces } from './pages/KV';
import { KVNamespacePage } from './pages/KVNamespace';
import { route } from './format';

type State = { status: 'loading' } | { status: 'signed-out'; notice?: string } | { status: 'signed-in'; session: Session };

export function App() {
  const path = usePath();
  const [state, setState] = useState<State>({ status: 'loading' });

  useEffect(() => {
    api.session().then(
      (session) => setState({ status: 'signed-in', session }),
      () => setState({ status: 'signed-out' }),
    );
  }, []);

  // Any page that meets a 401 (expired or revoked session) returns here.
  const expired = useCallback(() => {
    setState({ status: 'signed-out', notice: 'Your session has ended. Sign in again.' });
  }, []);

  const signedIn = useCallback((session: Session) => {
    setState({ status: 'signed-in', session });
    navigate('/sites', true);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.signOut();
    } catch (err) {
      if (!(err instanceof ApiError && err.unauthorized)) throw err;
    }
    setState({ status: 'signed-out', notice: 'You have signed out.' });
    navigate('/sign-in', true);
  }, []);

  useEffect(() => {
    if (state.status === 'signed-out' && path !== '/sign-in') navigate('/sign-in', true);
    if (state.status === 'signed-in' && (path === '/' || path === '/sign-in')) navigate('/sites', true);
  }, [state.status, path]);

  if (state.status === 'loading') {
    return (
      <div class="boot" role="status" aria-live="polite">
        Loading…
      </div>
    );
  }
  if (state.status === 'signed-out') {
    return <SignIn onSignedIn={signedIn} notice={state.notice} />;
  }
  const { session } = state;
  let page;
  const r = route(path);
  // One line per view; any other path is "Page not found".
  if (r?.page === 'sites') {
    page = <Sites session={session} onUnauthorized={expired} />;
  } else if (r?.page === 'site' && r.tab === 'overview') {
    page = <SiteOverview key={r.site} site={r.site} onUnauthorized={expired} />;
  } else if (r?.page === 'site' && r.tab === 'deployments') {
    page = <Deployments key={r.site} site={r.site} onUnauthorized={expired} />;
  } else if (r?.page === 'site' && r.tab === 'analytics') {
    page = <SiteAnalytics key={r.site} site={r.site} onUnauthorized={expired} />;
  } else if (r?.page === 'tenant' && r.tab === 'analytics') {
    page = <TenantAnalytics key={r.tenant} tenant={r.tenant} session={session} onUnauthorized={expired} />;
  } else if (r?.page === 'site' && r.tab === 'domains') {
    page = <Domains key={r.site} site={r.site} session={session} onUnauthorized={expired} />;
  } else if (r?.page === 'site' && r.tab === 'settings') {
    page = <SiteSettings key={r.site} site={r.site} session={session} onUnauthorized={expired} />;
  } else if (r?.page === 'tenants') {
    page = <Tenants session={session} onUnauthorized={expired} />;
  } else if (r?.page === 'tenant' && r.tab === 'overview') {
    page = <TenantOverview key={r.tenant} session={session} tenant={r.tenant} onUnauthorized={expired} />;
  } else if (r?.page === 'tenant' && r.tab === 'kv') {
    page = <KVNamespaces key={r.tenant} tenant={r.tenant} session={session} onUnauthorized={expired} />;
  } else if (r?.page === 'kv-namespace') {
    page = <KVNamespacePage key={r.tenant + '/' + r.namespace} tenant={r.tenant} namespace={r.namespace} session={session} onUnauthorized={expired} />;
  } else if (r?.page === 'site' && r.tab === 'deploy') {
    page = <Deploy key={r.site} site={r.site} onUnauthorized={expired} />;
  } else if (r?.page === 'site' && r.tab === 'logs') {
    page = <Logs key={r.site} site={r.site} onUnauthorized={expired} />;
  } else if (r?.page === 'deployment') {
    page = <DeploymentDetail key={r.site + '/' + r.id} site={r.site} id={r.id} onUnauthorized={expired} />;
  } else if (r?.page === 'attention') {
    page = <Attention session={session} onUnauthorized={expired} />;
  } else if (r?.page === 'tokens') {
    page = <AdminTokens session={session} onUnauthorized={expired} />;
  } else {
    page = <NotFound />;
  }
  return (
    <Shell session={session} path={path} onSignOut={signOut}>
      {page}
    </Shell>
  );
}
