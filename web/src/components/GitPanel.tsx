import { useEffect, useState } from 'preact/hooks';
import { siteGit, type SiteGit } from '../api-git';
import { failed } from '../errors';
import { deploymentPath, displayURL, shortCommit, sitePath } from '../format';
import { gitCommands } from '../git';
import { Link } from './SiteFrame';
import { LoadError } from './LoadError';

/**
 * A site's git side on its overview: the remote with a copy button and the
 * commands that publish with `git push`, and the branches (commit, the
 * deployment of their latest push, their alias address; the production
 * branch marked). GET /sites/{site}/git.
 */
export function GitPanel(props: { site: string; siteURL: string; onUnauthorized: () => void }) {
  const [git, setGit] = useState<SiteGit | undefined>();
  const [error, setError] = useState('');
  const [copied, setCopied] = useState('');

  async function load() {
    setError('');
    try {
      setGit(await siteGit(props.site));
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m !== undefined) setError(m);
    }
  }

  useEffect(() => {
    setGit(undefined);
    setCopied('');
    load();
  }, [props.site]);

  async function copy(text: string, what: string) {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(`Copied the ${what}.`);
    } catch {
      setCopied(`Copying failed: your browser did not allow it. Select the ${what} and copy it instead.`);
    }
  }

  const branch = git?.production_branch ?? 'main';
  const commands = git?.remote ? gitCommands(git.remote, branch).join('\n') : '';
  return (
    <section class="card wide git-panel" aria-labelledby="git-title">
      <div class="card-head">
        <h2 id="git-title">Git</h2>
        <Link href={sitePath(props.site, 'settings')}>
          Production branch: <code>{branch}</code>
        </Link>
      </div>
      <LoadError what="the git branches" error={error} onRetry={load} class="settings-alert" />
      {!git && !error && <p class="panel muted">Loading git…</p>}
      {git && (
        <>
          <div class="panel git-remote">
            {git.remote ? (
              <>
                <p class="git-lead">
                  Publish by pushing: <code>{branch}</code> goes live, any other branch gets a preview address of its own.
                  Git asks for a password: use a tenant or deploy token.
                </p>
                <div class="git-row">
                  <span class="git-label">Remote</span>
                  <code class="git-value" id="git-remote">
                    {git.remote}
                  </code>
                  <button type="button" class="button" onClick={() => copy(git.remote!, 'remote URL')}>
                    Copy remote URL
                  </button>
                </div>
                <div class="git-row">
                  <span class="git-label">Commands</span>
                  <pre class="git-value git-commands" id="git-commands">
                    {commands}
                  </pre>
                  <button type="button" class="button" onClick={() => copy(commands, 'commands')}>
                    Copy commands
                  </button>
                </div>
                <p class={copied ? 'hint git-copied' : 'sr-only'} role="status" aria-live="polite">
                  {copied}
                </p>
              </>
            ) : (
              <p class="muted git-lead">
                This server does not accept <code>git push</code>. Publish with <code>pier deploy DIR --site {props.site}</code>.
              </p>
            )}
          </div>
          {git.branches.length === 0 ? (
            <div class="empty empty-small git-empty">
              <h3>No branches pushed yet</h3>
              <p class="muted">
                {git.remote ? (
                  <>
                    Push <code>{branch}</code> to publish the site, or any other branch for a preview.
                  </>
                ) : (
                  'Branches appear here once pushed.'
                )}
              </p>
            </div>
          ) : (
            <table class="table git-branches">
              <caption class="sr-only">Branches</caption>
              <thead>
                <tr>
                  <th scope="col">Branch</th>
                  <th scope="col">Commit</th>
                  <th scope="col">Deployment</th>
                  <th scope="col">Address</th>
                </tr>
              </thead>
              <tbody>
                {git.branches.map((b) => (
                  <tr key={b.name}>
                    <th scope="row" data-label="Branch">
                      <span class="git-branch">
                        <code class="url">{b.name}</code>
                        {b.production && <span class="pill pill-live">Production</span>}
                      </span>
                    </th>
                    <td data-label="Commit">
                      <code title={b.commit}>{shortCommit(b.commit)}</code>
                    </td>
                    <td data-label="Deployment">
                      {b.deployment ? (
                        <Link href={deploymentPath(props.site, b.deployment)} label={`Deployment ${b.deployment} of ${b.name}`}>
                          <code>{b.deployment}</code>
                        </Link>
                      ) : (
                        <span class="muted">none</span>
                      )}
                    </td>
                    <td data-label="Address">
                      {b.url ? (
                        <a href={b.url} target="_blank" rel="noopener noreferrer" class="url">
                          {displayURL(b.url)}
                        </a>
                      ) : b.production ? (
                        <a href={props.siteURL} target="_blank" rel="noopener noreferrer" class="url">
                          {displayURL(props.siteURL)}
                        </a>
                      ) : (
                        <span class="muted">none</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
