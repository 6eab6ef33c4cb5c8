import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Session } from './api';
import { navigate } from './router';

/** The frame of every signed-in page: brand, navigation, who is signed in, Sign out. */
export function Shell(props: { session: Session; path: string; onSignOut: () => Promise<void>; children: ComponentChildren }) {
  const { session } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const who = session.kind === 'admin' ? 'Operator' : session.tenant?.name ?? 'Tenant';
  const link = (href: string, label: string) => (
    <a
      href={href}
      aria-current={props.path === href || props.path.startsWith(href + '/') ? 'page' : undefined}
      onClick={(e) => {
        e.preventDefault();
        navigate(href);
      }}
    >
      {label}
    </a>
  );
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="/sites" aria-label="Pier console home">
          <span class="logo" aria-hidden="true" />
          Pier
        </a>
        <nav aria-label="Main">
          {link('/sites', 'Sites')}
          {session.kind === 'admin' && link('/tenants', 'Tenants')}
          {session.kind === 'admin' && link('/attention', 'Attention')}
        </nav>
        <div class="account">
          <span class="who" title={session.kind === 'admin' ? 'Signed in with an admin token' : 'Signed in with a tenant token'}>
            <span class={'badge ' + (session.kind === 'admin' ? 'badge-admin' : 'badge-tenant')}>
              {session.kind === 'admin' ? 'admin' : 'tenant'}
            </span>{' '}
            {who}
          </span>
          <button
            type="button"
            class="button button-quiet"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              setError('');
              try {
                await props.onSignOut();
              } catch (err) {
                setError(err instanceof Error ? err.message : String(err));
                setBusy(false);
              }
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      {error && (
        <p class="alert alert-error" role="alert">
          Signing out failed: {error}
        </p>
      )}
      <main class="content" id="main">
        {props.children}
      </main>
    </div>
  );
}
