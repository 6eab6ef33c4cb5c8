import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Site } from '../api';
import { failed } from '../errors';
import { usePagedList } from '../paged';
import { createSite, tenantsPage } from '../api-detail';
import { MAX_SITE_NAME, siteNameError } from '../detail';

/** Tenants per request of the tenant list. */
const TENANTS_PAGE = 100;

/**
 * The "New site" form: a site name checked by the API's rules, and for an
 * operator the tenant it belongs to. The API's refusal is shown on the
 * field it names.
 */
export function NewSiteForm(props: {
  operator: boolean;
  onCreated: (site: Site) => void;
  onCancel: () => void;
  onUnauthorized: () => void;
}) {
  const [name, setName] = useState('');
  const [tenant, setTenant] = useState('');
  const [errors, setErrors] = useState<{ name?: string; tenant?: string; form?: string }>({});
  // Only an operator chooses the tenant; a failed load is shown on the tenant field.
  const tenantList = usePagedList((cursor) => tenantsPage({ limit: TENANTS_PAGE, cursor }), [], {
    onUnauthorized: props.onUnauthorized,
    onError: (m) => setErrors((e) => ({ ...e, tenant: 'Loading the tenants failed: ' + m })),
    enabled: props.operator,
  });
  const { items: tenants, next: tenantsNext, loading: tenantsLoading } = tenantList;
  const [busy, setBusy] = useState(false);
  const nameRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    nameRef.current?.focus();
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    const nameError = siteNameError(name);
    const tenantError = props.operator && !tenant ? 'Choose the tenant the site belongs to.' : undefined;
    if (nameError || tenantError) {
      setErrors({ name: nameError || undefined, tenant: tenantError });
      if (nameError) nameRef.current?.focus();
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      props.onCreated(await createSite(name, props.operator ? tenant : undefined));
    } catch (err) {
      const msg = failed(err, props.onUnauthorized);
      if (msg === undefined) return;
      const field = err instanceof ApiError ? err.details.field : undefined;
      if (field === 'name' || (err instanceof ApiError && err.code === 'conflict')) setErrors({ name: msg });
      else if (field === 'tenant') setErrors({ tenant: msg });
      else setErrors({ form: msg });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card new-site" aria-labelledby="new-site-title" onSubmit={submit} noValidate>
      <div class="card-head">
        <h2 id="new-site-title">New site</h2>
        <span class="muted">It is served at its name under the platform's domain.</span>
      </div>
      <div class="panel new-site-fields">
        <div class="field">
          <label for="new-site-name">Site name</label>
          <input
            id="new-site-name"
            ref={nameRef}
            name="name"
            autoComplete="off"
            autoCapitalize="none"
            spellcheck={false}
            maxLength={63}
            value={name}
            aria-invalid={errors.name ? 'true' : undefined}
            aria-describedby={errors.name ? 'new-site-name-error' : 'new-site-name-hint'}
            onInput={(e) => {
              setName((e.target as HTMLInputElement).value);
              if (errors.name) setErrors((x) => ({ ...x, name: undefined }));
            }}
          />
          {errors.name ? (
            <p id="new-site-name-error" class="field-error" role="alert">
              {errors.name}
            </p>
          ) : (
            <p id="new-site-name-hint" class="note">
              Lowercase letters, digits and '-', at most {MAX_SITE_NAME} characters.
            </p>
          )}
        </div>
        {props.operator && (
          <div class="field">
            <label for="new-site-tenant">Tenant</label>
            <select
              id="new-site-tenant"
              value={tenant}
              disabled={tenantsLoading && tenants.length === 0}
              aria-invalid={errors.tenant ? 'true' : undefined}
              aria-describedby={errors.tenant ? 'new-site-tenant-error' : undefined}
              onChange={(e) => {
                setTenant((e.target as HTMLSelectElement).value);
                if (errors.tenant) setErrors((x) => ({ ...x, tenant: undefined }));
              }}
            >
              <option value="">{tenantsLoading && tenants.length === 0 ? 'Loading tenants…' : 'Choose a tenant'}</option>
              {tenants.map((t) => (
                <option key={t.id} value={t.name}>
                  {t.name}
                  {t.disabled ? ' (disabled)' : ''}
                </option>
              ))}
            </select>
            {errors.tenant && (
              <p id="new-site-tenant-error" class="field-error" role="alert">
                {errors.tenant}
              </p>
            )}
            {tenantsNext && (
              <button type="button" class="button button-quiet more-tenants" disabled={tenantsLoading} onClick={tenantList.loadMore}>
                {tenantsLoading ? 'Loading…' : 'Load more tenants'}
              </button>
            )}
          </div>
        )}
      </div>
      {errors.form && (
        <p class="alert alert-error new-site-error" role="alert">
          Creating the site failed: {errors.form}
        </p>
      )}
      <div class="card-foot form-actions">
        <button type="button" class="button" onClick={props.onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" class="button button-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create site'}
        </button>
      </div>
    </form>
  );
}
