import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Site } from '../api';
import { errorMessage } from '../errors';
import { bytes, count, displayURL, plural, sitePath } from '../format';
import { Link, SiteFrame, SiteNotFound } from '../components/SiteFrame';
import { fromDataTransfer, fromFileList, type Folder } from '../deploy/files';
import type { FolderPlan } from '../deploy/folder';
import type { DeployResult, Progress } from '../deploy/deploy';
import type { HashPool } from '../deploy/hasher';

type State =
  | { step: 'idle' }
  | { step: 'reading'; folder: string }
  | { step: 'running'; plan: FolderPlan; progress: Progress }
  | { step: 'done'; plan: FolderPlan; result: DeployResult }
  | { step: 'failed'; folder: string; message: string; details: [string, string][] };

const phaseLabel = { hashing: 'Hashing files', uploading: 'Uploading new files', creating: 'Creating the deployment' } as const;

/** The server's answer a DeployError carries, if any. */
function apiOf(err: unknown): ApiError | undefined {
  const a = (err as { api?: unknown } | undefined)?.api;
  return a instanceof ApiError ? a : undefined;
}

/** What an error's envelope says about where it is: file, line, path, field, limit. */
function errorDetails(err: unknown): [string, string][] {
  const api = err instanceof ApiError ? err : apiOf(err);
  if (!api) return [];
  const d = api.details;
  const out: [string, string][] = [];
  if (typeof d.file === 'string') out.push(['File', d.file]);
  if (typeof d.line === 'number') out.push(['Line', String(d.line)]);
  if (typeof d.path === 'string') out.push(['File', d.path]);
  if (typeof d.field === 'string') out.push(['Field', d.field]);
  if (typeof d.limit === 'number') {
    const isBytes = api.code === 'file_too_large' || api.code === 'worker_too_large' || api.code === 'body_too_large';
    out.push(['Limit', isBytes ? `${bytes(d.limit)} (${count(d.limit)} bytes)` : count(d.limit)]);
  }
  return out;
}

/** Deploy by drag and drop: a folder is hashed in Web Workers, only new files are uploaded, and the deployment is created. */
export function Deploy(props: { site: string; onUnauthorized: () => void }) {
  const [site, setSite] = useState<Site | undefined>();
  const [missing, setMissing] = useState(false);
  const [publish, setPublish] = useState(true);
  const [state, setState] = useState<State>({ step: 'idle' });
  const [over, setOver] = useState(false);
  const abort = useRef<AbortController | undefined>(undefined);
  const pool = useRef<HashPool | undefined>(undefined);
  const picker = useRef<HTMLInputElement>(null);

  useEffect(() => {
    api.site(props.site).then(setSite, (err) => {
      if (err instanceof ApiError && err.status === 404) setMissing(true);
      else if (err instanceof ApiError && err.unauthorized) props.onUnauthorized();
    });
    return () => {
      abort.current?.abort();
      pool.current?.close();
    };
  }, [props.site]);

  // A folder dropped beside the drop zone must not make the browser open its files instead.
  useEffect(() => {
    const guard = (e: DragEvent) => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
    };
    window.addEventListener('dragover', guard);
    window.addEventListener('drop', guard);
    return () => {
      window.removeEventListener('dragover', guard);
      window.removeEventListener('drop', guard);
    };
  }, []);

  const busy = state.step === 'reading' || state.step === 'running';

  async function start(read: () => Promise<Folder>, label: string) {
    if (busy) return;
    setState({ step: 'reading', folder: label });
    let folder = label;
    try {
      const [f, engine] = await Promise.all([read(), import('../deploy/engine')]);
      const { buildTree, planFolder, deployFolder, xhrPutBlob, HashPool } = engine;
      folder = f.name;
      const plan = await planFolder(buildTree(f.entries), f.name);
      abort.current = new AbortController();
      pool.current ??= new HashPool();
      let last = 0;
      const result = await deployFolder(
        props.site,
        plan,
        publish,
        { request: (m, p, b) => api.request(m, p, b), putBlob: xhrPutBlob, hash: pool.current.hash },
        (progress) => {
          // At most one render per animation frame's worth of progress.
          const now = performance.now();
          if (now - last < 50 && progress.bytes < progress.totalBytes && progress.files < progress.totalFiles) return;
          last = now;
          setState({ step: 'running', plan, progress });
        },
        abort.current.signal,
      );
      setState({ step: 'done', plan, result });
      if (result.active) api.site(props.site).then(setSite, () => {});
    } catch (err) {
      if (abort.current?.signal.aborted) return;
      const cause = apiOf(err) ?? err;
      if (cause instanceof ApiError && cause.unauthorized) {
        props.onUnauthorized();
        return;
      }
      setState({ step: 'failed', folder, message: errorMessage(err), details: errorDetails(err) });
    }
  }

  function onDrop(e: DragEvent) {
    e.preventDefault();
    setOver(false);
    const dt = e.dataTransfer;
    if (!dt || busy) return;
    const read = fromDataTransfer(dt); // entries must be taken during the event
    start(() => read, 'the dropped folder');
  }

  function onPick(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const files = input.files ? Array.from(input.files) : [];
    input.value = '';
    if (files.length === 0) return;
    start(async () => fromFileList(files), 'the chosen folder');
  }

  if (missing) return <SiteNotFound site={props.site} />;

  const progress = state.step === 'running' ? state.progress : undefined;
  const percent = progress ? (progress.totalBytes > 0 ? Math.floor((progress.bytes / progress.totalBytes) * 100) : progress.totalFiles > 0 ? Math.floor((progress.files / progress.totalFiles) * 100) : 100) : 0;

  return (
    <SiteFrame
      site={props.site}
      tab="deploy"
      actions={
        <Link class="button button-link" href={sitePath(props.site, 'deployments')}>
          View deployments
        </Link>
      }
    >
      <div class="deploy-layout">
        <section class="card" aria-labelledby="deploy-title">
          <div class="card-head">
            <h2 id="deploy-title">Deploy a folder</h2>
            {site && (
              <span class="muted deploy-live">
                Live at{' '}
                <a href={site.url} target="_blank" rel="noopener noreferrer" class="url">
                  {displayURL(site.url)}
                </a>
              </span>
            )}
          </div>
          <div class="panel">
            <section
              class={'dropzone' + (over ? ' dropzone-over' : '') + (busy ? ' dropzone-busy' : '')}
              aria-label="Drop zone"
              aria-describedby="dropzone-help"
              onDragEnter={(e) => {
                e.preventDefault();
                if (!busy) setOver(true);
              }}
              onDragOver={(e) => {
                e.preventDefault();
                if (e.dataTransfer) e.dataTransfer.dropEffect = busy ? 'none' : 'copy';
              }}
              onDragLeave={(e) => {
                if (!(e.currentTarget as HTMLElement).contains(e.relatedTarget as Node | null)) setOver(false);
              }}
              onDrop={onDrop}
            >
              <svg class="dropzone-icon" viewBox="0 0 24 24" aria-hidden="true">
                <path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z" />
                <path d="M12 10v6M9 13l3-3 3 3" />
              </svg>
              <p class="dropzone-title">{over ? 'Release to deploy' : 'Drop a folder here'}</p>
              <p id="dropzone-help" class="muted dropzone-help">
                Its files become a new deployment of <strong>{props.site}</strong>. Only files the server does not have yet are uploaded.
              </p>
              <input
                ref={picker}
                id="folder-picker"
                class="sr-only"
                type="file"
                multiple
                {...({ webkitdirectory: true } as Record<string, unknown>)}
                disabled={busy}
                onChange={onPick}
              />
              <label for="folder-picker" class={'button button-primary' + (busy ? ' button-disabled' : '')}>
                Choose a folder
              </label>
            </section>
            <div class="deploy-options">
              <input id="publish" type="checkbox" class="checkbox" checked={publish} disabled={busy} onChange={(e) => setPublish((e.currentTarget as HTMLInputElement).checked)} />
              <label for="publish" class="checkbox-label">
                Publish when done
              </label>
              <span class="note deploy-options-note">
                {publish
                  ? 'The new deployment goes live as soon as it is created, as pier deploy does.'
                  : 'The new deployment gets a preview URL only; the live site stays as it is (pier deploy --no-activate).'}
              </span>
            </div>
          </div>
        </section>

        <div aria-live="polite" class="deploy-status">
          {state.step === 'reading' && (
            <div class="card panel" role="status">
              Reading {state.folder}…
            </div>
          )}
          {state.step === 'running' && progress && (
            <section class="card panel" aria-labelledby="progress-title">
              <h2 id="progress-title" class="deploy-phase">
                {phaseLabel[progress.phase]}
                <span class="muted"> · {state.plan.display}</span>
              </h2>
              <div
                class="progress"
                role="progressbar"
                aria-labelledby="progress-title"
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={percent}
                aria-valuetext={`${percent}%: ${count(progress.files)} of ${plural(progress.totalFiles, 'file')}, ${bytes(progress.bytes)} of ${bytes(progress.totalBytes)}`}
              >
                <ProgressFill percent={percent} />
              </div>
              <p class="muted progress-text">
                {count(progress.files)} of {plural(progress.totalFiles, 'file')} · {bytes(progress.bytes)} of {bytes(progress.totalBytes)}
              </p>
            </section>
          )}
          {state.step === 'done' && <Done site={props.site} plan={state.plan} result={state.result} />}
          {state.step === 'failed' && (
            <div class="alert alert-error deploy-error" role="alert">
              <div>
                <strong>Deploying {state.folder} failed.</strong> {state.message}
              </div>
              {state.details.length > 0 && (
                <dl class="error-facts">
                  {state.details.map(([k, v]) => (
                    <div key={k + v}>
                      <dt>{k}</dt>
                      <dd>
                        <code>{v}</code>
                      </dd>
                    </div>
                  ))}
                </dl>
              )}
              <div>Nothing was published: the live site is as it was. Fix the folder and drop it again.</div>
            </div>
          )}
        </div>

        <section class="card panel deploy-help" aria-labelledby="deploy-rules">
          <h2 id="deploy-rules">What is published</h2>
          <ul class="deploy-rules">
            <li>
              <code>pier.toml</code> in the folder is read as <code>pier deploy</code> reads it: <code>[assets] directory</code>,{' '}
              <code>html_handling</code>, <code>not_found_handling</code>, <code>run_worker_first</code>, <code>[vars]</code> and{' '}
              <code>[worker] main</code>.
            </li>
            <li>
              <code>_headers</code> and <code>_redirects</code> at the root are configuration, not files.
            </li>
            <li>
              <code>.git</code>, <code>node_modules</code>, <code>.DS_Store</code> and what <code>.assetsignore</code> lists are left out; so is
              anything that looks secret (<code>.env</code>, keys, tokens), whatever it says.
            </li>
          </ul>
        </section>
      </div>
    </SiteFrame>
  );
}

/** The bar's fill, sized from script (the CSP forbids inline style attributes). */
function ProgressFill(props: { percent: number }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.style.width = `${props.percent}%`;
  }, [props.percent]);
  return <div ref={ref} class="progress-fill" />;
}

function Done(props: { site: string; plan: FolderPlan; result: DeployResult }) {
  const r = props.result;
  const projectSite = props.plan.project?.site;
  return (
    <section class="card deploy-done" aria-labelledby="done-title">
      <div class="card-head">
        <h2 id="done-title">{r.active ? 'Deployed and live' : 'Deployed (not published)'}</h2>
        <code class="deployment-id">{r.deployment}</code>
      </div>
      <div class="panel">
        <p class="deploy-counts">
          {plural(r.files, 'file')}, {count(r.uploaded)} uploaded, {count(r.reused)} reused
          <span class="muted deploy-sent"> · {bytes(r.bytesUploaded)} sent</span>
        </p>
        <dl class="facts">
          <div>
            <dt>Live URL</dt>
            <dd>
              <a href={r.url} target="_blank" rel="noopener noreferrer" class="url">
                {displayURL(r.url)}
              </a>
              {!r.active && <span class="muted"> (unchanged: this deployment was not published)</span>}
            </dd>
          </div>
          <div>
            <dt>Preview URL</dt>
            <dd>
              <a href={r.preview_url} target="_blank" rel="noopener noreferrer" class="url">
                {displayURL(r.preview_url)}
              </a>
            </dd>
          </div>
          {r.rules.length > 0 && (
            <div>
              <dt>Rules</dt>
              <dd>{r.rules.join(', ')} (configuration, not served)</dd>
            </div>
          )}
          {r.worker && (
            <div>
              <dt>Worker</dt>
              <dd>
                <code>{r.worker}</code> ({props.plan.worker?.path}, {r.workerUploaded ? 'uploaded' : 'reused'})
              </dd>
            </div>
          )}
        </dl>
        {r.skipped.length > 0 && (
          <div class="alert alert-info">
            <div>
              <strong>Not published</strong> (looks secret):
              <ul class="skipped">
                {r.skipped.map((s) => (
                  <li key={s.path}>
                    <code>{s.path}</code> ({s.reason})
                  </li>
                ))}
              </ul>
            </div>
          </div>
        )}
        {projectSite && projectSite !== props.site && (
          <p class="note">
            pier.toml names the site <code>{projectSite}</code>; this page deployed to <code>{props.site}</code>.
          </p>
        )}
        <p class="deploy-next">
          <Link href={sitePath(props.site, 'deployments')}>See all deployments</Link>
        </p>
      </div>
    </section>
  );
}
