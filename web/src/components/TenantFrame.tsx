import type { ComponentChildren } from 'preact';
import { tenantPath, type TenantTab } from '../format';
import { Link } from './SiteFrame';

/** The tenant's tabs and their labels, in order. */
const tabs: [TenantTab, string][] = [
  ['overview', 'Overview'],
  ['kv', 'KV'],
  ['analytics', 'Analytics'],
];

/**
 * The head of a tenant's pages: breadcrumb, name, status, and the tenant's
 * tabs. A tenant sees only its KV page (tenantView): no link to the
 * operator's tenant list and no tabs.
 */
export function TenantFrame(props: {
  tenant: string;
  tab: TenantTab;
  tenantView?: boolean;
  status?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class="page" aria-labelledby="tenant-title">
      <nav class="breadcrumb" aria-label="Breadcrumb">
        {!props.tenantView && (
          <>
            <Link href="/tenants">Tenants</Link>
            <span aria-hidden="true"> / </span>
          </>
        )}
        <span>{props.tenant}</span>
      </nav>
      <div class="page-head">
        <div class="title-row">
          <h1 id="tenant-title" class="site-title">
            {props.tenant}
          </h1>
          {props.status}
        </div>
        {props.actions}
      </div>
      {!props.tenantView && (
        <nav class="tabs" aria-label="Tenant">
          {tabs.map(([tab, label]) => (
            <Link key={tab} href={tenantPath(props.tenant, tab)} current={props.tab === tab}>
              {label}
            </Link>
          ))}
        </nav>
      )}
      {props.children}
    </section>
  );
}

/** What a tenant's page shows when there is no such tenant. */
export function TenantNotFound(props: { tenant: string }) {
  return (
    <section class="page" aria-labelledby="tenant-missing">
      <div class="card empty">
        <h1 id="tenant-missing">Tenant not found</h1>
        <p class="muted">
          There is no tenant named <code>{props.tenant}</code>. <Link href="/tenants">Back to the tenants</Link>.
        </p>
      </div>
    </section>
  );
}

/** What the operator's pages show to a tenant: it may not manage tenants (the API would refuse). */
export function OperatorsOnly() {
  return (
    <section class="page" aria-labelledby="operators-only">
      <div class="card empty">
        <h1 id="operators-only">Operators only</h1>
        <p class="muted">
          Tenants are managed by the platform’s operator: sign in with an admin token to see them.{' '}
          <Link href="/sites">Go to your sites</Link>.
        </p>
      </div>
    </section>
  );
}

/** A tenant's status as a pill: Active or Disabled. */
export function TenantStatus(props: { disabled: boolean }) {
  return props.disabled ? (
    <span class="pill pill-disabled">Disabled</span>
  ) : (
    <span class="pill pill-live">
      <span class="dot" aria-hidden="true" />
      Active
    </span>
  );
}
