import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, type Deployment, type Limits } from '../api';
import { failed } from '../errors';
import { deploymentDetail, tenantLimits, type DeploymentDetail as Detail } from '../api-detail';
import { absoluteTime, bytes, count, deploymentPath, displayURL, plural, relativeTime, sitePath } from '../format';
import { configItems, fileRows, fileSize, filterFiles, FILES_PAGE, visibleFiles } from '../detail';
import { Link, SiteFrame, SiteNotFound } from '../components/SiteFrame';
import { ActivateDialog, activateAction, type ActivateAction } from '../components/ActivateDialog';
import { LoadError } from '../components/LoadError';
import { DeploymentSource, LiveMarker } from '../components/DeploymentSource';

/** Pages of the deployments list searched for the live deployment's creation time. */
const LIVE_SEARCH_PAGES = 10;

/** The live deployment of a site, found in its deployments list (newest first). */
async function findLive(site: string): Promise<Deployment | undefined> {
  const s = await api.site(site);
  if (!s.active_deployment) return undefined;
  let cursor: string | undefined;
  for (let i = 0; i < LIVE_SEARCH_PAGES; i++) {
    const page = await api.deployments(site, { limit: 100, cursor });
    const live = page.items.find((d) => d.id === s.active_deployment);
    if (live) return live;
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return undefined;
}

/** One deployment: what it is, its config, its `_headers`/`_redirects` and its files; publish or roll back to it. */
export function DeploymentDetail(props: { site: string; id: string; onUnauthorized: () => void }) {
  const [dep, setDep] = useState<Detail | undefined>();
  const [live, setLive] = useState<Deployment | undefined>();
  const [limits, setLimits] = useState<Limits | undefined>();
  const [loading, setLoading] = useState(true);
  const [missing, setMissing] = useState<'site' | 'deployment' | undefined>();
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [target, setTarget] = useState<{ dep: Deployment; action: ActivateAction } | undefined>();
  const [filter, setFilter] = useState('');
  const [shown, setShown] = useState(FILES_PAGE);

  function fail(err: unknown) {
    const m = failed(err, props.onUnauthorized);
    if (m !== undefined) setError(m);
  }

  async function load() {
    setLoading(true);
    setError('');
    try {
      const d = await deploymentDetail(props.site, props.id);
      setDep(d);
      setLive(d.active ? d : await findLive(props.site).catch(() => undefined));
      if (d.worker) {
        const site = await api.site(props.site);
        tenantLimits(site.tenant_id).then(
          (t) => setLimits(t.effective_limits ?? t.limits),
          () => setLimits(undefined),
        );
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        // Which one is missing: the site (or another tenant's) or only the deployment.
        const siteExists = await api.site(props.site).then(
          () => true,
          () => false,
        );
        setMissing(siteExists ? 'deployment' : 'site');
      } else fail(err);
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    setDep(undefined);
    setMissing(undefined);
    setFilter('');
    setShown(FILES_PAGE);
    load();
  }, [props.site, props.id]);

  const rows = useMemo(() => fileRows(dep?.manifest), [dep]);
  const filtered = useMemo(() => filterFiles(rows, filter), [rows, filter]);
  const view = visibleFiles(filtered, shown, rows.length, filter);

  async function copy() {
    if (!dep) return;
    try {
      await navigator.clipboard.writeText(dep.preview_url);
      setNotice(`Copied the preview URL of ${dep.id}.`);
    } catch {
      setNotice('Copying failed: your browser did not allow it. Select the link and copy it instead.');
    }
  }

  async function activated(message: string) {
    setTarget(undefined);
    setNotice(message);
    try {
      const d = await deploymentDetail(props.site, props.id);
      setDep(d);
      setLive(d.active ? d : await findLive(props.site));
    } catch (err) {
      fail(err);
    }
  }

  if (missing === 'site') return <SiteNotFound site={props.site} />;

  const back = (
    <Link href={sitePath(props.site, 'deployments')} class="back-link">
      <span aria-hidden="true">← </span>All deployments
    </Link>
  );

  if (missing === 'deployment') {
    return (
      <SiteFrame site={props.site} tab="deployments">
        <div class="card empty">
          <h2>Deployment not found</h2>
          <p class="muted">
            <code>{props.id}</code> is not a deployment of {props.site}. {back}
          </p>
        </div>
      </SiteFrame>
    );
  }

  const action = dep && !dep.active ? activateAction(dep, live) : undefined;
  const config = dep ? configItems(dep.config, { hash: dep.worker, size: dep.worker_size, limits }) : [];
  return (
    <SiteFrame site={props.site} tab="deployments">
      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>
      <LoadError what="the deployment" error={error} onRetry={load} />
      <div class="detail-head">
        <div class="detail-title">
          {back}
          <h2>
            Deployment <code class="deployment-id">{props.id}</code>
          </h2>
          {dep?.active && <LiveMarker />}
        </div>
        {dep && (
          <div class="deployment-actions">
            <button type="button" class="button button-quiet" aria-label="Copy preview URL" title={`Copy ${dep.preview_url}`} onClick={copy}>
              Copy preview URL
            </button>
            {action && (
              <button type="button" class="button button-primary" onClick={() => setTarget({ dep, action })}>
                {action}
              </button>
            )}
          </div>
        )}
      </div>

      {loading && !dep && (
        <div class="card panel" role="status">
          Loading deployment…
        </div>
      )}

      {dep && (
        <>
          <section class="card dcard panel" aria-labelledby="summary-title">
            <h3 id="summary-title" class="sr-only">
              Summary
            </h3>
            <dl class="summary">
              <div>
                <dt>Status</dt>
                <dd>
                  {dep.active ? (
                    'Live: visitors see this deployment'
                  ) : live ? (
                    <>
                      Not live; the live one is <Link href={deploymentPath(props.site, live.id)}>{live.id}</Link>
                    </>
                  ) : (
                    'Not live'
                  )}
                </dd>
              </div>
              <div>
                <dt>Source</dt>
                <dd>
                  <DeploymentSource source={dep.source} />
                </dd>
              </div>
              <div>
                <dt>Created</dt>
                <dd>
                  <time dateTime={dep.created_at} title={absoluteTime(dep.created_at)}>
                    {relativeTime(dep.created_at)}
                  </time>
                  <span class="note">{absoluteTime(dep.created_at)}</span>
                </dd>
              </div>
              <div>
                <dt>Files</dt>
                <dd>{count(dep.files)}</dd>
              </div>
              <div>
                <dt>Size</dt>
                <dd>{bytes(dep.bytes)}</dd>
              </div>
              <div class="summary-wide">
                <dt>Preview URL</dt>
                <dd>
                  <a href={dep.preview_url} target="_blank" rel="noopener noreferrer" class="url preview-url">
                    {displayURL(dep.preview_url)}
                  </a>
                </dd>
              </div>
            </dl>
          </section>

          <div class="grid detail-grid detail-block">
            <section class="card dcard wide" aria-labelledby="config-title">
              <div class="card-head">
                <h3 id="config-title">Configuration</h3>
                <span class="muted">
                  from <code>pier.toml</code> and the deploy request
                </span>
              </div>
              <dl class="config">
                {config.map((c) => (
                  <div key={c.term}>
                    <dt>{c.term}</dt>
                    <dd>
                      {c.value}
                      {c.code && (
                        <>
                          {' '}
                          <code class="config-code">{c.code}</code>
                        </>
                      )}
                      {c.list && (
                        <ul class="config-list">
                          {c.list.map((l) => (
                            <li key={l}>
                              <code>{l}</code>
                            </li>
                          ))}
                        </ul>
                      )}
                    </dd>
                  </div>
                ))}
              </dl>
            </section>
            <RulesText name="_headers" text={dep.config?.headers} what="response headers" />
            <RulesText name="_redirects" text={dep.config?.redirects} what="redirects or rewrites" />
          </div>

          <section class="card dcard files-card detail-block" aria-labelledby="files-title">
            <div class="card-head files-head">
              <h3 id="files-title">Files</h3>
              <div class="search">
                <label for="file-filter">Filter files</label>
                <input
                  id="file-filter"
                  type="search"
                  placeholder="Path or content type"
                  value={filter}
                  onInput={(e) => {
                    setFilter((e.target as HTMLInputElement).value);
                    setShown(FILES_PAGE);
                  }}
                />
              </div>
            </div>
            <p class="card-meta" role="status" aria-live="polite">
              {view.summary}
            </p>
            {view.rows.length > 0 && (
              <table class="table files-table" aria-labelledby="files-title">
                <thead>
                  <tr>
                    <th scope="col">Path</th>
                    <th scope="col">Size</th>
                    <th scope="col">Content type</th>
                    <th scope="col">Hash</th>
                  </tr>
                </thead>
                <tbody>
                  {view.rows.map((r) => (
                    <tr key={r.path}>
                      <th scope="row" data-label="Path" class="file-path">
                        <code>{r.path}</code>
                      </th>
                      <td data-label="Size">{fileSize(r)}</td>
                      <td data-label="Content type">{r.content_type ? <code>{r.content_type}</code> : <span class="muted">unknown</span>}</td>
                      <td data-label="Hash">
                        <code class="file-hash">{r.hash}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {rows.length === 0 && (
              <div class="empty">
                <h4>No files</h4>
                <p class="muted">This deployment publishes no static files{dep.worker ? ': its worker answers every request.' : '.'}</p>
              </div>
            )}
            {rows.length > 0 && filtered.length === 0 && (
              <div class="empty">
                <h4>No matching files</h4>
                <p class="muted">No file of this deployment matches “{filter.trim()}”.</p>
              </div>
            )}
            {view.more > 0 && (
              <div class="card-foot">
                <button type="button" class="button" onClick={() => setShown((n) => n + FILES_PAGE)}>
                  Show {count(Math.min(FILES_PAGE, view.more))} more files
                </button>{' '}
                <span class="muted">{plural(view.more, 'file')} not shown</span>
              </div>
            )}
          </section>
        </>
      )}

      <ActivateDialog
        site={props.site}
        target={target}
        liveId={live?.id}
        onDone={activated}
        onClose={() => setTarget(undefined)}
        onUnauthorized={props.onUnauthorized}
      />
    </SiteFrame>
  );
}

/** A rules file's text, or why there is none. */
function RulesText(props: { name: string; text?: string; what: string }) {
  const id = 'rules' + props.name;
  return (
    <section class="card dcard" aria-labelledby={id}>
      <div class="card-head">
        <h3 id={id}>
          <code>{props.name}</code>
        </h3>
        {props.text && <span class="muted">{plural(props.text.split('\n').filter((l) => l.trim()).length, 'line')}</span>}
      </div>
      {props.text ? (
        <pre class="rules-text" tabIndex={0} aria-label={`${props.name} text`}>
          {props.text}
        </pre>
      ) : (
        <div class="panel rules-empty">
          <p class="muted">
            No <code>{props.name}</code> file: this deployment sets no {props.what}.
          </p>
        </div>
      )}
    </section>
  );
}
