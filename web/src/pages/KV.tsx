import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Session } from '../api';
import { failed } from '../errors';
import { createNamespace, deleteNamespace, getNamespace, listNamespaces, type KVNamespace } from '../api-kv';
import { absoluteTime, bytes, count, kvPath, plural, relativeTime } from '../format';
import { namespaceNameError } from '../kv';
import { Link } from '../components/SiteFrame';
import { TenantFrame } from '../components/TenantFrame';
import { LoadError } from '../components/LoadError';
import { TypedConfirmDialog } from '../components/TypedConfirmDialog';

/**
 * /tenants/<name>/kv: the tenant's KV namespaces (list, create, delete).
 * An operator reaches it from the tenant's tabs, a tenant from the top
 * bar; a deploy (site) token may not act on its tenant as a whole.
 */
export function KVNamespaces(props: { tenant: string; session: Session; onUnauthorized: () => void }) {
  if (props.session.site) return <KVNeedsTenantToken />;
  return <Namespaces tenant={props.tenant} tenantView={props.session.kind !== 'admin'} onUnauthorized={props.onUnauthorized} />;
}

/** What the KV pages show to a deploy token: KV belongs to the tenant as a whole. */
export function KVNeedsTenantToken() {
  return (
    <section class="page" aria-labelledby="kv-forbidden">
      <div class="card empty">
        <h1 id="kv-forbidden">KV needs a tenant token</h1>
        <p class="muted">
          KV namespaces belong to the tenant, not to one site: sign in with a tenant token to manage them.{' '}
          <Link href="/sites">Go to your site</Link>.
        </p>
      </div>
    </section>
  );
}

/** What the KV pages show when the tenant (or namespace) does not exist or is another tenant's. */
export function KVNotFound(props: { what: string; name: string; tenant: string; tenantView: boolean }) {
  return (
    <section class="page" aria-labelledby="kv-missing">
      <div class="card empty">
        <h1 id="kv-missing">{props.what === 'tenant' ? 'Tenant not found' : 'Namespace not found'}</h1>
        <p class="muted">
          There is no {props.what} named <code>{props.name}</code> that you can see.{' '}
          {props.what === 'tenant' ? (
            <Link href={props.tenantView ? '/sites' : '/tenants'}>{props.tenantView ? 'Back to your sites' : 'Back to the tenants'}</Link>
          ) : (
            <Link href={kvPath(props.tenant)}>Back to the namespaces</Link>
          )}
          .
        </p>
      </div>
    </section>
  );
}

function Namespaces(props: { tenant: string; tenantView: boolean; onUnauthorized: () => void }) {
  const [items, setItems] = useState<KVNamespace[] | undefined>();
  const [loadError, setLoadError] = useState('');
  const [missing, setMissing] = useState(false);
  const [notice, setNotice] = useState('');
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState('');
  const [creating, setCreating] = useState(false);
  const [target, setTarget] = useState<KVNamespace | undefined>();
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState('');
  const nameRef = useRef<HTMLInputElement>(null);

  async function load() {
    setLoadError('');
    try {
      setItems(await listNamespaces(props.tenant));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return setMissing(true);
      const m = failed(err, props.onUnauthorized);
      if (m) setLoadError(m);
    }
  }

  useEffect(() => {
    setItems(undefined);
    setMissing(false);
    load();
  }, [props.tenant]);

  async function create(e: Event) {
    e.preventDefault();
    const n = name.trim();
    const problem = namespaceNameError(n);
    setNameError(problem);
    if (problem) {
      nameRef.current?.focus();
      return;
    }
    setCreating(true);
    try {
      const ns = await createNamespace(props.tenant, n);
      setItems((prev) => [...(prev ?? []).filter((x) => x.id !== ns.id), ns].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
      setName('');
      setNotice(`Created the namespace ${ns.name}. Bind it to a site in its pier.toml to use it from the worker.`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return setMissing(true);
      const m = failed(err, props.onUnauthorized);
      if (m) setNameError(m);
      nameRef.current?.focus();
    } finally {
      setCreating(false);
    }
  }

  async function remove() {
    if (!target) return;
    setBusy(true);
    setDialogError('');
    try {
      await deleteNamespace(props.tenant, target.id);
      setItems((prev) => prev?.filter((x) => x.id !== target.id));
      setNotice(`Deleted the namespace ${target.name} and its keys. Workers bound to it can no longer read it.`);
      setTarget(undefined);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        setItems((prev) => prev?.filter((x) => x.id !== target.id));
        setTarget(undefined);
        return;
      }
      const m = failed(err, props.onUnauthorized);
      if (m) setDialogError(m);
    } finally {
      setBusy(false);
    }
  }

  if (missing) return <KVNotFound what="tenant" name={props.tenant} tenant={props.tenant} tenantView={props.tenantView} />;
  const sizes = items?.some((ns) => typeof ns.keys === 'number' || typeof ns.bytes === 'number');
  const errorId = 'kv-new-name-error';
  const example = items?.[0]?.name ?? 'blog-data';
  return (
    <TenantFrame tenant={props.tenant} tab="kv" tenantView={props.tenantView}>
      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>
      <section class="card settings-section" aria-labelledby="kv-title">
        <div class="settings-head">
          <h2 id="kv-title" tabIndex={-1}>KV namespaces</h2>
          <p class="muted">
            Key-value stores of {props.tenantView ? 'your' : 'the tenant’s'} workers. A site’s worker reads and writes a namespace
            once the site’s <code>pier.toml</code> binds it, here as <code>STORE</code>:
          </p>
          <pre class="kv-toml">
            {`[[kv]]\nbinding = "STORE"\nnamespace = "${example}"`}
          </pre>
        </div>

        <form class="token-form" onSubmit={create} noValidate>
          <div class="token-form-field">
            <label for="kv-new-name">Namespace name</label>
            <input
              id="kv-new-name"
              ref={nameRef}
              type="text"
              class="mono"
              placeholder="e.g. blog-data"
              maxLength={63}
              value={name}
              autocomplete="off"
              autocapitalize="off"
              spellcheck={false}
              aria-invalid={nameError ? true : undefined}
              aria-describedby={nameError ? errorId : undefined}
              onInput={(e) => {
                setName((e.target as HTMLInputElement).value);
                if (nameError) setNameError('');
              }}
            />
          </div>
          <button type="submit" class="button button-primary" disabled={creating}>
            {creating ? 'Creating…' : 'Create namespace'}
          </button>
          {nameError && (
            <p id={errorId} class="alert alert-error token-form-error" role="alert">
              {nameError}
            </p>
          )}
        </form>

        <LoadError what="the namespaces" error={loadError} onRetry={load} class="settings-alert" />
        {items === undefined && !loadError && (
          <p class="settings-text muted" role="status">
            Loading namespaces…
          </p>
        )}
        {items?.length === 0 && (
          <div class="empty empty-small">
            <h3>No namespaces yet</h3>
            <p class="muted">Create one above, then bind it in a site’s pier.toml.</p>
          </div>
        )}
        {items && items.length > 0 && (
          <table class="table kv-table" aria-label="KV namespaces">
            <thead>
              <tr>
                <th scope="col">Name</th>
                {sizes && <th scope="col">Keys</th>}
                {sizes && <th scope="col">Stored</th>}
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((ns) => (
                <tr key={ns.id}>
                  <th scope="row" data-label="Name">
                    <Link href={kvPath(props.tenant, ns.name)} class="kv-name">
                      {ns.name}
                    </Link>
                  </th>
                  {sizes && <td data-label="Keys">{typeof ns.keys === 'number' ? count(ns.keys) : '—'}</td>}
                  {sizes && <td data-label="Stored">{typeof ns.bytes === 'number' ? bytes(ns.bytes) : '—'}</td>}
                  <td data-label="Created">
                    <time dateTime={ns.created_at} title={absoluteTime(ns.created_at)}>
                      {relativeTime(ns.created_at)}
                    </time>
                  </td>
                  <td class="kv-actions" data-label="">
                    <button
                      type="button"
                      class="button button-quiet button-danger-quiet"
                      aria-label={`Delete namespace ${ns.name}`}
                      onClick={() => {
                        setDialogError('');
                        setTarget(ns);
                        // The dialog says how many keys go with it, when the API counts them.
                        getNamespace(props.tenant, ns.id).then(
                          (n) => setTarget((t) => (t?.id === n.id ? { ...t, ...n } : t)),
                          () => {},
                        );
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <TypedConfirmDialog
        fallbackFocus="kv-title"
        open={!!target}
        title={target ? `Delete the namespace ${target.name}?` : ''}
        name={target?.name ?? ''}
        kind="namespace"
        confirmLabel="Delete namespace"
        busy={busy}
        error={dialogError}
        onConfirm={remove}
        onClose={() => setTarget(undefined)}
      >
        {target && (
          <p>
            <strong>{target.name}</strong> and every key in it
            {typeof target.keys === 'number' ? ` (${plural(target.keys, 'key')})` : ''} will be deleted. Workers bound to it get
            “unbound” errors from their next request. This cannot be undone.
          </p>
        )}
      </TypedConfirmDialog>
    </TenantFrame>
  );
}
