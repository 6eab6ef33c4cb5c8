import type { DeploymentSource as Source } from '../api';
import { shortCommit } from '../format';

const sourceNames: Record<string, string> = { cli: 'CLI', api: 'API', ui: 'Console', git: 'git' };

/** Where a deployment came from, in words: “CLI · branch main · commit 1a2b3c4”. */
export function DeploymentSource(props: { source?: Source }) {
  const source = props.source;
  return (
    <>
      {sourceNames[source?.type ?? 'api'] ?? source?.type}
      {source?.branch && (
        <>
          {' · branch '}
          <code>{source.branch}</code>
        </>
      )}
      {source?.commit && (
        <>
          {' · commit '}
          <code title={source.commit}>{shortCommit(source.commit)}</code>
        </>
      )}
    </>
  );
}

/** The marker of the site's live deployment. */
export function LiveMarker() {
  return (
    <span class="pill pill-live live-marker">
      <span class="dot" aria-hidden="true" />
      Live
    </span>
  );
}
