import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Session } from './api';
import { errorMessage } from './errors';
import { navigate } from './router';
import { takeFlash } from './flash';
import { kvPath } from './format';

/** The frame of every signed-in page: brand, navigation, who is signed in, Sign out. */
export function Shell(props: { session: Session; path: string; onSignOut: () => Promise<void>; children: ComponentChildren }) {
  const { session } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const who =
    session.kind === 'admin'
      ? 'Operator'
      : (session.tenant?.name ?? 'Tenant') + (session.site ? ' / ' + session.site.name : '');
  const title =
    session.kind === 'admin'
      ? 'Signed in with an admin token'
      : session.site
        ? `Signed in with a deploy token of the site ${session.site.name}`
        : 'Signed in with a tenant token';
  // A message the previous page left (flash), shown once on this one.
  const [notice, setNotice] = useState<string | undefined>();
  useEffect(() => setNotice(takeFlash()), [props.path]);
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
          {session.kind === 'tenant' && session.tenant && !session.site && link(kvPath(session.tenant.name), 'KV')}
          {session.kind === 'admin' && link('/tenants', 'Tenants')}
          {session.kind === 'admin' && link('/attention', 'Attention')}
          {session.kind === 'admin' && link('/tokens', 'Tokens')}
        </nav>
        <div class="account">
          <span class="who" title={title}>
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
                setError(errorMessage(err));
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
        {notice && (
          <p class="alert alert-info flash" role="status">
            {notice}
          </p>
        )}
        {props.children}
      </main>
    </div>
  );
}
