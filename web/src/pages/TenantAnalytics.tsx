import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Session, type Tenant } from '../api';
import { Analytics } from '../components/Analytics';
import { OperatorsOnly, TenantFrame, TenantNotFound, TenantStatus } from '../components/TenantFrame';
import { planLabel } from '../tenants';

/**
 * /tenants/<name>/analytics (operator only, like the tenant's other
 * pages): the usage of all of the tenant's sites. A tenant gets
 * "Operators only" without a request; the API would answer another
 * tenant's usage 404 in any case.
 */
export function TenantAnalytics(props: { tenant: string; session: Session; onUnauthorized: () => void }) {
  if (props.session.kind !== 'admin') return <OperatorsOnly />;
  return <TenantUsage tenant={props.tenant} onUnauthorized={props.onUnauthorized} />;
}

function TenantUsage(props: { tenant: string; onUnauthorized: () => void }) {
  const [missing, setMissing] = useState(false);
  const [info, setInfo] = useState<Tenant | undefined>();

  useEffect(() => {
    api.tenant(props.tenant).then(setInfo, (err) => {
      if (err instanceof ApiError && err.unauthorized) props.onUnauthorized();
      else if (err instanceof ApiError && err.status === 404) setMissing(true);
      // Anything else: the analytics below say what failed.
    });
  }, [props.tenant]);

  if (missing) return <TenantNotFound tenant={props.tenant} />;
  return (
    <TenantFrame
      tenant={props.tenant}
      tab="analytics"
      status={
        info && (
          <>
            <TenantStatus disabled={info.disabled} />
            <span class="pill">{planLabel(info.plan)} plan</span>
          </>
        )
      }
    >
      <p class="muted tenant-sub">Usage of all the tenant's sites.</p>
      <Analytics scope={{ tenant: props.tenant }} onUnauthorized={props.onUnauthorized} onMissing={() => setMissing(true)} />
    </TenantFrame>
  );
}
