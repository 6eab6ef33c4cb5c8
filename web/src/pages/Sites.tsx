import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type Session } from '../api';
import { usePagedList } from '../paged';
import { absoluteTime, displayURL, matches, plural, relativeTime, sitePath } from '../format';
import { Link } from '../components/SiteFrame';
import { NewSiteForm } from '../components/NewSiteForm';
import { navigate } from '../router';
import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';

/** Sites per request: the API's default page size. */
export const PAGE_SIZE = 100;

/** The sites list: every site for an operator, its own for a tenant. */
export function Sites(props: { session: Session; onUnauthorized: () => void }) {
  const operator = props.session.kind === 'admin';
  const list = usePagedList((cursor) => api.sites({ limit: PAGE_SIZE, cursor }), [], { onUnauthorized: props.onUnauthorized });
  const { items: sites, next, loading, error } = list;
  const [search, setSearch] = useState('');
  const [creating, setCreating] = useState(false);
  const [tenantNames, setTenantNames] = useState<Record<string, string>>(() =>
    props.session.tenant ? { [props.session.tenant.id]: props.session.tenant.name } : {},
  );

  // An operator sees tenant ids in the sites; show their names.
  useEffect(() => {
    if (!operator) return;
    const missing = [...new Set(sites.map((s) => s.tenant_id))].filter((id) => !(id in tenantNames));
    if (missing.length === 0) return;
    Promise.all(missing.map((id) => api.tenant(id).then((t) => [id, t.name] as const, () => [id, id] as const))).then(
      (pairs) => setTenantNames((prev) => ({ ...prev, ...Object.fromEntries(pairs) })),
    );
  }, [sites, operator]);

  const shown = useMemo(
    () => sites.filter((s) => matches(search, s.name, tenantNames[s.tenant_id], s.url, s.active_deployment)),
    [sites, search, tenantNames],
  );

  return (
    <section class="page" aria-labelledby="sites-title">
      <div class="page-head">
        <div>
          <h1 id="sites-title">Sites</h1>
          <p class="muted">
            {operator ? 'Every site on this platform.' : `Sites of ${props.session.tenant?.name ?? 'your tenant'}.`}
          </p>
        </div>
        <div class="page-actions">
          <button type="button" class="button button-primary" aria-expanded={creating} onClick={() => setCreating(!creating)}>
            New site
          </button>
        </div>
        <div class="search">
          <label for="site-search">Search sites</label>
          <input
            id="site-search"
            type="search"
            placeholder={operator ? 'Name, tenant or URL' : 'Name or URL'}
            value={search}
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
        </div>
      </div>

      {creating && (
        <NewSiteForm
          operator={operator}
          onCreated={(s) => navigate(sitePath(s.name))}
          onCancel={() => setCreating(false)}
          onUnauthorized={props.onUnauthorized}
        />
      )}

      <LoadError what="sites" error={error} onRetry={list.reload} />

      <div class="card">
        <p class="card-meta" role="status" aria-live="polite">
          {loading && sites.length === 0
            ? 'Loading sites…'
            : search
              ? `${plural(shown.length, 'site')} match “${search.trim()}”${next ? ` among the ${sites.length} loaded` : ''}`
              : `${plural(sites.length, 'site')}${next ? ' loaded' : ''}`}
        </p>
        {sites.length > 0 && shown.length > 0 && (
          <table class="table sites-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                {operator && <th scope="col">Tenant</th>}
                <th scope="col">Live URL</th>
                <th scope="col">Active deployment</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((s) => (
                <tr key={s.id}>
                  <th scope="row" data-label="Name">
                    <Link href={sitePath(s.name)} class="site-link">
                      <span class="site-name">{s.name}</span>
                    </Link>
                  </th>
                  {operator && <td data-label="Tenant">{tenantNames[s.tenant_id] ?? s.tenant_id}</td>}
                  <td data-label="Live URL">
                    {s.active_deployment ? (
                      <a href={s.url} target="_blank" rel="noopener noreferrer" class="url">
                        {displayURL(s.url)}
                      </a>
                    ) : (
                      <span class="muted url" title={s.url}>
                        {displayURL(s.url)}
                      </span>
                    )}
                  </td>
                  <td data-label="Active deployment">
                    {s.active_deployment ? (
                      <span class="pill pill-live">
                        <span class="dot" aria-hidden="true" />
                        <code>{s.active_deployment}</code>
                      </span>
                    ) : (
                      <span class="pill">Not deployed</span>
                    )}
                  </td>
                  <td data-label="Created">
                    <time dateTime={s.created_at} title={absoluteTime(s.created_at)}>
                      {relativeTime(s.created_at)}
                    </time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {!loading && !error && sites.length === 0 && (
          <div class="empty">
            <h2>No sites yet</h2>
            <p class="muted">
              Create one with <code>pier sites create NAME</code>, then publish it with <code>pier deploy DIR</code>.
            </p>
          </div>
        )}
        {sites.length > 0 && shown.length === 0 && (
          <div class="empty">
            <h2>No matching sites</h2>
            <p class="muted">No loaded site matches “{search.trim()}”.</p>
          </div>
        )}
        <LoadMore next={next} loading={loading} onMore={list.loadMore} label="Load more sites" />
      </div>
    </section>
  );
}
