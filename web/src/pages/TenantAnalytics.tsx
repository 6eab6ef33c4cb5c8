import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Session, type Tenant } from '../api';
import { Analytics } from '../components/Analytics';
import { Link } from '../components/SiteFrame';
import { tenantPath } from '../format';

/**
 * /tenants/<name>/analytics: the usage of all of a tenant's sites, for
 * the operator. The API decides who may see it: another tenant's answers
 * 404, and the page says "Tenant not found" (a tenant may open its own,
 * as the API allows).
 */
export function TenantAnalytics(props: { tenant: string; session: Session; onUnauthorized: () => void }) {
  const [missing, setMissing] = useState(false);
  const [info, setInfo] = useState<Tenant | undefined>();

  useEffect(() => {
    api.tenant(props.tenant).then(setInfo, (err) => {
      if (err instanceof ApiError && err.unauthorized) props.onUnauthorized();
      else if (err instanceof ApiError && err.status === 404) setMissing(true);
      // Anything else: the analytics below say what failed.
    });
  }, [props.tenant]);

  if (missing) {
    return (
      <section class="page" aria-labelledby="tenant-missing">
        <div class="card empty">
          <h1 id="tenant-missing">Tenant not found</h1>
          <p class="muted">
            There is no tenant named <code>{props.tenant}</code> that you can see.{' '}
            <Link href="/sites">Back to your sites</Link>.
          </p>
        </div>
      </section>
    );
  }
  const operator = props.session.kind === 'admin';
  const name = info?.name ?? props.tenant;
  return (
    <section class="page" aria-labelledby="tenant-title">
      <nav class="breadcrumb" aria-label="Breadcrumb">
        {operator ? (
          <>
            <Link href="/tenants">Tenants</Link>
            <span aria-hidden="true"> / </span>
            <Link href={tenantPath(name)}>{name}</Link>
          </>
        ) : (
          <span>{name}</span>
        )}
        <span aria-hidden="true"> / </span>
        <span>Analytics</span>
      </nav>
      <div class="page-head">
        <div>
          <h1 id="tenant-title" class="site-title">
            {name}
          </h1>
          <p class="muted tenant-sub">
            {info && <span class="pill">Plan: {info.plan || 'default'}</span>}
            {info?.disabled && <span class="pill pill-blocked">Disabled</span>}
            <span>Usage of all the tenant's sites</span>
          </p>
        </div>
      </div>
      <Analytics scope={{ tenant: props.tenant }} onUnauthorized={props.onUnauthorized} onMissing={() => setMissing(true)} />
    </section>
  );
}
