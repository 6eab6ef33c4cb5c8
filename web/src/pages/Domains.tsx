import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Domain, type Session } from '../api';
import { failed } from '../errors';
import { usePagedList } from '../paged';
import { absoluteTime, domainStatusLabel, plural, relativeTime } from '../format';
import {
  addErrorText,
  certTimeline,
  domainsApi,
  domainsChanged,
  inProgress,
  nextPollDelay,
  nextCheckText,
  rateLimitText,
  recordRows,
  retryAfter,
  stepStateWords,
} from '../domains';
import { SiteFrame, SiteNotFound } from '../components/SiteFrame';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { DomainBlockDialog } from '../components/DomainBlockDialog';
import { blockActionFor, type BlockTarget } from '../domainblock';
import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';

/** Domains per request: the API's default page size. */
export const DOMAINS_PAGE = 100;

/** The outcome of the last Verify of a domain, shown beside it. */
type VerifyResult = { kind: 'ok' | 'error' | 'rate'; text: string; fromCheck?: boolean };

/** What a domain's controls share with the page. */
interface Actions {
  site: string;
  verifying: string | undefined;
  results: Record<string, VerifyResult>;
  waitUntil: Record<string, number>;
  copied: string;
  now: number;
  verify(host: string): void;
  copy(key: string, what: string, value: string): void;
  remove(d: Domain): void;
  /** An operator session: each domain offers Block, or Unblock when blocked. */
  operator: boolean;
  block(d: Domain): void;
}

/**
 * A site's custom domains (/sites/<name>/domains): an Add domain wizard
 * (hostname → the DNS records with Copy buttons → Verify), and the list
 * with each domain's status, the verifier's last error, and its
 * certificate as a timeline. While something is in progress the list is
 * polled (one GET per open page, every 3 s growing to 30 s, paused while
 * the page is hidden). Remove asks for confirmation.
 */
export function Domains(props: { site: string; session?: Session; onUnauthorized: () => void }) {
  const list = usePagedList((cursor) => api.domains(props.site, { limit: DOMAINS_PAGE, cursor }), [props.site], {
    onUnauthorized: props.onUnauthorized,
    missingOn404: true,
    pageSize: DOMAINS_PAGE,
  });
  const { items, setItems, next, loading, missing, setMissing, error, setError } = list;
  const [notice, setNotice] = useState('');

  const [hostname, setHostname] = useState('');
  const [adding, setAdding] = useState(false);
  const [addError, setAddError] = useState('');
  const [added, setAdded] = useState<Domain | undefined>();

  const [verifying, setVerifying] = useState<string | undefined>();
  const [results, setResults] = useState<Record<string, VerifyResult>>({});
  const [waitUntil, setWaitUntil] = useState<Record<string, number>>({});
  const [copied, setCopied] = useState('');
  const [now, setNow] = useState(Date.now());

  const [target, setTarget] = useState<Domain | undefined>();
  const [removing, setRemoving] = useState(false);
  const [removeError, setRemoveError] = useState('');
  const [blockTarget, setBlockTarget] = useState<BlockTarget | undefined>();

  const [visible, setVisible] = useState(document.visibilityState !== 'hidden');
  const [tick, setTick] = useState(0);
  const delay = useRef<number | undefined>(undefined);
  const itemsRef = useRef<Domain[]>([]);
  itemsRef.current = items;

  /** Reloads every page loaded so far; announces the domains whose status changed. */
  async function refresh(): Promise<boolean> {
    const before = itemsRef.current;
    const all = await list.refresh();
    const changed = domainsChanged(before, all);
    if (changed) {
      const was = new Map(before.map((d) => [d.hostname, d]));
      const news = all
        .filter((d) => was.has(d.hostname) && (was.get(d.hostname)!.status !== d.status || was.get(d.hostname)!.cert_status !== d.cert_status))
        .map((d) => `${d.hostname}: ${domainStatusLabel(d.status)}${d.status === 'active' && d.cert_status !== 'none' ? `, certificate ${certWords(d.cert_status)}` : ''}.`);
      if (news.length) setNotice(news.join(' '));
    }
    setNow(Date.now());
    return changed;
  }

  // Pause polling while the page is hidden; look again at once when it shows.
  useEffect(() => {
    const on = () => {
      const v = document.visibilityState !== 'hidden';
      setVisible(v);
      if (v) delay.current = undefined;
    };
    document.addEventListener('visibilitychange', on);
    return () => document.removeEventListener('visibilitychange', on);
  }, []);

  // Poll while a domain is in progress: POLL_MIN, growing ×1.5 to POLL_MAX while nothing changes.
  useEffect(() => {
    if (loading || missing || !visible || !items.some(inProgress)) {
      delay.current = undefined;
      return;
    }
    const wait = delay.current ?? nextPollDelay(undefined, true);
    const t = setTimeout(async () => {
      try {
        const changed = await refresh();
        delay.current = nextPollDelay(wait, changed);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return setMissing(true);
        if (err instanceof ApiError && err.unauthorized) return props.onUnauthorized();
        delay.current = nextPollDelay(wait, false); // a failed poll backs off too
      }
      setTick((n) => n + 1);
    }, wait);
    return () => clearTimeout(t);
  }, [items, loading, missing, visible, tick]);

  // A ticking clock only while a Verify waits out the rate limit.
  useEffect(() => {
    if (!Object.values(waitUntil).some((t) => t > now)) return;
    const t = setTimeout(() => setNow(Date.now()), 1000);
    return () => clearTimeout(t);
  }, [waitUntil, now]);

  async function add(e: Event) {
    e.preventDefault();
    const host = hostname.trim();
    if (!host) {
      setAddError('Hostname: enter the hostname to add, for example www.example.com.');
      return;
    }
    setAdding(true);
    setAddError('');
    try {
      const d = await domainsApi.add(props.site, host);
      setAdded(d);
      setHostname('');
      setNotice(`Added ${d.hostname}. Create its DNS records, then verify it.`);
      delay.current = undefined;
      await refresh().catch(() => list.reload());
    } catch (err) {
      if (err instanceof ApiError && err.unauthorized) return props.onUnauthorized();
      if (err instanceof ApiError && err.status === 404) return setMissing(true);
      setAddError(addErrorText(err));
    } finally {
      setAdding(false);
    }
  }

  async function verify(host: string) {
    setVerifying(host);
    setResults((r) => {
      const rest = { ...r };
      delete rest[host];
      return rest;
    });
    try {
      const d = await domainsApi.verify(props.site, host);
      setItems((prev) => prev.map((x) => (x.hostname === d.hostname ? d : x)));
      setAdded((a) => (a?.hostname === d.hostname ? d : a));
      const result: VerifyResult =
        d.status === 'active'
          ? { kind: 'ok', text: `Verified: ${d.hostname} is active and served by ${props.site}.` }
          : {
              kind: 'error',
              text: `Not verified: ${(d.error || `the domain is ${domainStatusLabel(d.status).toLowerCase()}`).replace(/\.$/, '')}.`,
              fromCheck: !!d.error,
            };
      setResults((r) => ({ ...r, [host]: result }));
      setNow(Date.now());
      delay.current = undefined;
    } catch (err) {
      const secs = retryAfter(err);
      if (secs !== undefined) {
        setWaitUntil((w) => ({ ...w, [host]: Date.now() + secs * 1000 }));
        setNow(Date.now());
        setResults((r) => ({ ...r, [host]: { kind: 'rate', text: rateLimitText(secs) } }));
      } else if (err instanceof ApiError && err.status === 404) {
        await refresh().catch(() => undefined);
        setResults((r) => ({ ...r, [host]: { kind: 'error', text: `${host} is no longer a domain of ${props.site}.` } }));
      } else {
        const m = failed(err, props.onUnauthorized);
        if (m) setResults((r) => ({ ...r, [host]: { kind: 'error', text: `Verifying failed: ${m}` } }));
      }
    } finally {
      setVerifying(undefined);
    }
  }

  async function copy(key: string, what: string, value: string) {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(key);
      setNotice(`Copied the ${what}.`);
      setTimeout(() => setCopied((k) => (k === key ? '' : k)), 2500);
    } catch {
      setNotice(`Copying failed: your browser did not allow it. Select the ${what} and copy it instead.`);
    }
  }

  async function confirmRemove() {
    if (!target) return;
    setRemoving(true);
    setRemoveError('');
    try {
      await domainsApi.remove(props.site, target.hostname);
      setNotice(`Removed ${target.hostname}. It is no longer served by ${props.site}; you can delete its DNS records.`);
      if (added?.hostname === target.hostname) setAdded(undefined);
      setTarget(undefined);
      await refresh().catch((err) => {
        const m = failed(err, props.onUnauthorized);
        if (m) setError(m);
      });
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m) setRemoveError(m);
    } finally {
      setRemoving(false);
    }
  }

  if (missing) return <SiteNotFound site={props.site} />;

  const actions: Actions = {
    site: props.site,
    verifying,
    results,
    waitUntil,
    copied,
    now,
    verify,
    copy,
    remove: (d) => {
      setRemoveError('');
      setTarget(d);
    },
    operator: props.session?.kind === 'admin',
    block: (d) => setBlockTarget({ domain: d, action: blockActionFor(d) }),
  };
  // The wizard shows the newest state of the domain it added.
  const wizardDomain = added && (items.find((d) => d.hostname === added.hostname) ?? added);

  return (
    <SiteFrame site={props.site} tab="domains">
      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>
      <LoadError what="domains" error={error} onRetry={list.reload} />
      <div class="domains-page">
        <section class="card wizard" aria-labelledby="add-domain-title">
          <div class="card-head">
            <h2 id="add-domain-title">Add a custom domain</h2>
          </div>
          <ol class="wizard-steps" aria-label="Steps">
            {['Hostname', 'DNS records', 'Verify'].map((label, i) => {
              // Hostname first; then the records (Verify beside them); all done once active.
              const step = !wizardDomain ? 0 : wizardDomain.status === 'active' ? 3 : 1;
              const state = i < step ? 'done' : i === step ? 'current' : 'upcoming';
              return (
                <li key={label} class={'wizard-step wizard-step-' + state} aria-current={state === 'current' ? 'step' : undefined}>
                  <span class="wizard-num" aria-hidden="true">
                    {i < step ? '✓' : i + 1}
                  </span>
                  {label}
                </li>
              );
            })}
          </ol>
          {!wizardDomain ? (
            <form class="add-domain" onSubmit={add} noValidate>
              <div class="field">
                <label for="domain-hostname">Hostname</label>
                <input
                  id="domain-hostname"
                  name="hostname"
                  type="text"
                  inputMode="url"
                  autoComplete="off"
                  autoCapitalize="none"
                  spellcheck={false}
                  placeholder="www.example.com"
                  value={hostname}
                  aria-invalid={addError ? 'true' : undefined}
                  aria-describedby={addError ? 'domain-hostname-error domain-hostname-hint' : 'domain-hostname-hint'}
                  onInput={(e) => setHostname((e.target as HTMLInputElement).value)}
                />
                <p id="domain-hostname-hint" class="hint">
                  A name you own, such as <code>www.example.com</code> or <code>example.com</code>. Next you create two DNS records.
                </p>
              </div>
              <button type="submit" class="button button-primary" disabled={adding}>
                {adding ? 'Adding…' : 'Add domain'}
              </button>
              {addError && (
                <p id="domain-hostname-error" class="alert alert-error add-error" role="alert">
                  {addError}
                </p>
              )}
            </form>
          ) : (
            <div class="wizard-body">
              {wizardDomain.status === 'active' ? (
                <p class="wizard-lead">
                  <strong class="url">{wizardDomain.hostname}</strong> is verified and served by <strong>{props.site}</strong>.
                  {wizardDomain.cert_status !== 'none' && ' Its certificate is below.'}
                </p>
              ) : (
                <p class="wizard-lead">
                  Create these records at the DNS provider of <strong class="url">{wizardDomain.hostname}</strong>, then verify.
                </p>
              )}
              <Records domain={wizardDomain} actions={actions} />
              {wizardDomain.status !== 'active' && (
                <p class="hint">
                  DNS changes can take a few minutes to show. Pier also checks by itself, less and less often, for 7 days. Without the TXT
                  record, <code class="url">{wizardDomain.http_proof}</code> answering the token proves ownership too once the name points
                  here, if no other site claims it.
                </p>
              )}
              <VerifyOutcome host={wizardDomain.hostname} actions={actions} />
              <div class="wizard-actions">
                {wizardDomain.status !== 'active' && wizardDomain.status !== 'blocked' && (
                  <VerifyButton host={wizardDomain.hostname} actions={actions} primary label="Verify" />
                )}
                <button
                  type="button"
                  class="button button-quiet"
                  onClick={() => {
                    setAdded(undefined);
                    setAddError('');
                  }}
                >
                  Add another domain
                </button>
              </div>
            </div>
          )}
        </section>

        <section class="card" aria-labelledby="domains-list-title">
          <div class="card-head">
            <h2 id="domains-list-title">Domains</h2>
            <span class="card-meta-inline muted">
              {loading && items.length === 0 ? 'Loading domains…' : `${plural(items.length, 'domain')}${next ? ' loaded' : ''}`}
            </span>
          </div>
          {items.length > 0 && (
            <ul class="domains" aria-label="Domains">
              {items.map((d) => (
                <DomainItem key={d.hostname} domain={d} actions={actions} inWizard={d.hostname === wizardDomain?.hostname} />
              ))}
            </ul>
          )}
          {!loading && !error && items.length === 0 && (
            <div class="empty">
              <h3>No custom domains yet</h3>
              <p class="muted">
                {props.site} is served at its platform address only. Add a hostname you own above to serve the site there too.
              </p>
            </div>
          )}
          <LoadMore next={next} loading={loading} onMore={list.loadMore} label="Load more domains" />
        </section>
      </div>
      <ConfirmDialog
        open={!!target}
        title={target ? `Remove ${target.hostname}?` : ''}
        confirmLabel="Remove domain"
        busy={removing}
        error={removeError}
        onConfirm={confirmRemove}
        onClose={() => setTarget(undefined)}
      >
        {target && (
          <p>
            <strong>{target.hostname}</strong> stops being served by <strong>{props.site}</strong> at once
            {target.status === 'active' ? ', and visitors to it get an error until it is added again and verified' : ''}. To add it
            again later, it needs a new TXT record.
          </p>
        )}
      </ConfirmDialog>
      <DomainBlockDialog
        target={blockTarget}
        onClose={() => setBlockTarget(undefined)}
        onUnauthorized={props.onUnauthorized}
        onDone={(d, text) => {
          setItems((prev) => prev.map((x) => (x.hostname === d.hostname ? d : x)));
          setAdded((a) => (a?.hostname === d.hostname ? d : a));
          setNotice(text);
          setBlockTarget(undefined);
          delay.current = undefined;
        }}
      />
    </SiteFrame>
  );
}

function certWords(status: string): string {
  const words: Record<string, string> = {
    pending_validation: 'awaiting validation',
    pending_issuance: 'being issued',
    active: 'active',
    failed: 'failed',
  };
  return words[status] ?? status;
}

/** One domain of the list. */
function DomainItem(props: { domain: Domain; actions: Actions; inWizard: boolean }) {
  const d = props.domain;
  const { actions } = props;
  // The outcome of a Verify is shown once: in the wizard when it shows this
  // domain, else here; a failed check's reason is the Last check line.
  const result = props.inWizard ? undefined : actions.results[d.hostname];
  const now = new Date(actions.now);
  const id = 'domain-' + d.hostname.replace(/[^a-z0-9-]/g, '-');
  const steps = certTimeline(d, now);
  return (
    <li class={'domain domain-' + d.status} aria-labelledby={id + '-name'}>
      <div class="domain-head">
        <div class="domain-title">
          <span id={id + '-name'} class="domain-host url">
            {d.hostname}
          </span>
          <span class={'pill pill-' + d.status}>
            {d.status === 'pending' && <span class="dot dot-pulse" aria-hidden="true" />}
            {domainStatusLabel(d.status)}
          </span>
        </div>
        <div class="domain-actions">
          {d.status !== 'blocked' && <VerifyButton host={d.hostname} actions={actions} label={`Verify ${d.hostname}`} />}
          {actions.operator && (
            <button type="button" class="button button-quiet" aria-label={`${d.status === 'blocked' ? 'Unblock' : 'Block'} ${d.hostname}`} onClick={() => actions.block(d)}>
              {d.status === 'blocked' ? 'Unblock' : 'Block'}
            </button>
          )}
          <button type="button" class="button button-quiet button-danger" aria-label={`Remove ${d.hostname}`} onClick={() => actions.remove(d)}>
            Remove
          </button>
        </div>
      </div>
      {d.error && (
        <p class={d.status === 'active' ? 'domain-check muted' : 'domain-check domain-error'} role={result?.fromCheck ? 'alert' : undefined}>
          <span class="domain-check-label">{result?.fromCheck ? 'Not verified' : `Last check${d.checked_at ? ' ' + relativeTime(d.checked_at, now) : ''}`}:</span>{' '}
          {d.error}
        </p>
      )}
      {!d.error && d.status === 'active' && d.verified_at && (
        <p class="domain-check muted">
          Verified{' '}
          <time dateTime={d.verified_at} title={absoluteTime(d.verified_at)}>
            {relativeTime(d.verified_at, now)}
          </time>
          .
        </p>
      )}
      {d.status === 'pending' && (
        <p class="domain-check muted">
          {d.next_check ? (
            <>
              Next automatic check{' '}
              <time dateTime={d.next_check} title={absoluteTime(d.next_check)}>
                {nextCheckText(d.next_check, now)}
              </time>
              .
            </>
          ) : (
            'No more automatic checks: use Verify once the records are in place.'
          )}
        </p>
      )}
      {result && !result.fromCheck && <VerifyOutcome host={d.hostname} actions={actions} />}
      {steps ? (
        <ol class="timeline" aria-label={`Certificate of ${d.hostname}`}>
          {steps.map((s) => (
            <li key={s.key} class={'timeline-step timeline-' + s.state} aria-current={s.state === 'current' || s.state === 'failed' ? 'step' : undefined}>
              <span class="timeline-mark" aria-hidden="true">
                {s.state === 'done' ? '✓' : s.state === 'failed' ? '!' : ''}
              </span>
              <span class="timeline-text">
                <span class="timeline-label">
                  {s.label}
                  <span class="sr-only"> ({stepStateWords[s.state]})</span>
                </span>
                <span class="timeline-detail">{s.detail}</span>
              </span>
            </li>
          ))}
        </ol>
      ) : (
        <p class="domain-check muted">HTTPS is not enabled on this platform: no certificate is ordered.</p>
      )}
      {d.status !== 'active' && d.status !== 'blocked' && (
        <details class="domain-records">
          <summary>DNS records</summary>
          <Records domain={d} actions={actions} />
        </details>
      )}
    </li>
  );
}

/** A Verify button that waits out the rate limit. */
function VerifyButton(props: { host: string; actions: Actions; label: string; primary?: boolean }) {
  const { actions, host } = props;
  const wait = Math.max(0, Math.ceil(((actions.waitUntil[host] ?? 0) - actions.now) / 1000));
  const busy = actions.verifying === host;
  return (
    <button
      type="button"
      class={props.primary ? 'button button-primary' : 'button'}
      aria-label={props.label}
      disabled={busy || wait > 0}
      onClick={() => actions.verify(host)}
    >
      {busy ? 'Checking…' : wait > 0 ? `Verify (${wait} s)` : 'Verify'}
    </button>
  );
}

/** The outcome of the last Verify of host, in words. */
function VerifyOutcome(props: { host: string; actions: Actions }) {
  const { actions, host } = props;
  const r = actions.results[host];
  if (!r) return null;
  if (r.kind === 'rate') {
    // Counts down with the page's clock; gone once Verify may be used again.
    const secs = Math.ceil(((actions.waitUntil[host] ?? 0) - actions.now) / 1000);
    if (secs <= 0) return null;
    return (
      <p class="alert alert-warn" role="alert">
        {rateLimitText(secs)}
      </p>
    );
  }
  if (r.kind === 'ok')
    return (
      <p class="alert alert-ok" role="status">
        {r.text}
      </p>
    );
  return (
    <p class="alert alert-error" role="alert">
      {r.text}
    </p>
  );
}

/** The DNS records of a domain, each value with a Copy button. */
function Records(props: { domain: Domain; actions: Actions }) {
  const { domain, actions } = props;
  const rows = recordRows(domain.records);
  return (
    <table class="table records" aria-label={`DNS records for ${domain.hostname}`}>
      <thead>
        <tr>
          <th scope="col">Type</th>
          <th scope="col">Name</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => {
          const key = `${domain.hostname}|${i}`;
          return (
            <tr key={key}>
              <th scope="row" data-label="Type">
                <span class="record-type">{r.type}</span>
                <span class="record-purpose muted">{r.purpose}</span>
              </th>
              <td data-label="Name">
                <code class="record-name">{r.name}</code>
              </td>
              <td data-label="Value">
                <span class="record-value">
                  <code>{r.value}</code>
                  <button
                    type="button"
                    class="button button-quiet button-small"
                    aria-label={r.copyLabel}
                    title={`Copy ${r.value}`}
                    onClick={() => actions.copy(key, `${r.type} value of ${domain.hostname}`, r.value)}
                  >
                    Copy
                  </button>
                  {actions.copied === key && (
                    <span class="copied" aria-hidden="true">
                      Copied
                    </span>
                  )}
                </span>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
