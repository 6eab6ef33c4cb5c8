import { useState } from 'preact/hooks';
import { api, type Deployment } from '../api';
import { failed } from '../errors';
import { usePagedList } from '../paged';
import { absoluteTime, bytes, count, deploymentPath, displayURL, plural, relativeTime, sitePath } from '../format';
import { Link, SiteFrame, SiteNotFound } from '../components/SiteFrame';
import { ActivateDialog, activateAction, type ActivateAction } from '../components/ActivateDialog';
import { LoadError } from '../components/LoadError';
import { DeploymentSource, LiveMarker } from '../components/DeploymentSource';
import { LoadMore } from '../components/LoadMore';

/** Deployments per request. */
export const DEPLOYMENTS_PAGE = 20;

/** A site's deployments, newest first: the live one marked, preview links, publish or roll back. */
export function Deployments(props: { site: string; onUnauthorized: () => void }) {
  const list = usePagedList((cursor) => api.deployments(props.site, { limit: DEPLOYMENTS_PAGE, cursor }), [props.site], {
    onUnauthorized: props.onUnauthorized,
    missingOn404: true,
    pageSize: DEPLOYMENTS_PAGE,
  });
  const { items, next, loading, error, missing } = list;
  const [notice, setNotice] = useState('');
  const [target, setTarget] = useState<{ dep: Deployment; action: ActivateAction } | undefined>();

  async function activated(message: string) {
    setTarget(undefined);
    setNotice(message);
    // Reload every page loaded so far, so the marker shows the server's truth.
    await list.refresh().catch((err) => {
      const m = failed(err, props.onUnauthorized);
      if (m) list.setError(m);
    });
  }

  async function copy(d: Deployment) {
    try {
      await navigator.clipboard.writeText(d.preview_url);
      setNotice(`Copied the preview URL of ${d.id}.`);
    } catch {
      setNotice('Copying failed: your browser did not allow it. Select the link and copy it instead.');
    }
  }

  if (missing) return <SiteNotFound site={props.site} />;

  const live = items.find((d) => d.active);
  return (
    <SiteFrame
      site={props.site}
      tab="deployments"
      actions={
        <Link class="button button-primary button-link" href={sitePath(props.site, 'deploy')}>
          Deploy a folder
        </Link>
      }
    >
      <p class={notice ? 'alert alert-info' : 'sr-only'} role="status" aria-live="polite">
        {notice}
      </p>
      <LoadError what="deployments" error={error} onRetry={list.reload} />
      <div class="card">
        <p class="card-meta">
          {loading && items.length === 0 ? 'Loading deployments…' : `${plural(items.length, 'deployment')}${next ? ' loaded' : ''}`}
        </p>
        {items.length > 0 && (
          <ul class="deployments" aria-label="Deployments">
            {items.map((d) => {
              const action = activateAction(d, live);
              return (
                <li key={d.id} class={'deployment' + (d.active ? ' deployment-live' : '')} aria-label={`Deployment ${d.id}${d.active ? ', live' : ''}`}>
                  <div class="deployment-main">
                    <div class="deployment-title">
                      <Link href={deploymentPath(props.site, d.id)} class="deployment-link">
                        <code class="deployment-id">{d.id}</code>
                      </Link>
                      {d.active && <LiveMarker />}
                    </div>
                    <dl class="deployment-facts">
                      <div>
                        <dt>Source</dt>
                        <dd>
                          <DeploymentSource source={d.source} />
                        </dd>
                      </div>
                      <div>
                        <dt>Files</dt>
                        <dd>{count(d.files)}</dd>
                      </div>
                      <div>
                        <dt>Size</dt>
                        <dd>{bytes(d.bytes)}</dd>
                      </div>
                      <div>
                        <dt>Created</dt>
                        <dd>
                          <time dateTime={d.created_at} title={absoluteTime(d.created_at)}>
                            {relativeTime(d.created_at)}
                          </time>
                        </dd>
                      </div>
                    </dl>
                    <div class="preview">
                      <span class="muted">Preview</span>{' '}
                      <a href={d.preview_url} target="_blank" rel="noopener noreferrer" class="url preview-url">
                        {displayURL(d.preview_url)}
                      </a>
                    </div>
                  </div>
                  <div class="deployment-actions">
                    <button
                      type="button"
                      class="button button-quiet"
                      aria-label="Copy preview URL"
                      title={`Copy ${d.preview_url}`}
                      onClick={() => copy(d)}
                    >
                      Copy
                    </button>
                    {!d.active && (
                      <button
                        type="button"
                        class="button"
                        onClick={() => setTarget({ dep: d, action })}
                      >
                        {action}
                      </button>
                    )}
                  </div>
                </li>
              );
            })}
          </ul>
        )}
        {!loading && !error && items.length === 0 && (
          <div class="empty">
            <h2>No deployments yet</h2>
            <p class="muted">
              Publish with <code>pier deploy DIR --site {props.site}</code>.
            </p>
          </div>
        )}
        <LoadMore next={next} loading={loading} onMore={list.loadMore} label="Load more" />
      </div>
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
