import { useEffect, useState } from 'preact/hooks';
import { api, type Deployment } from '../api';
import { failed } from '../errors';
import { plural, relativeTime } from '../format';
import { ConfirmDialog } from './ConfirmDialog';

/** What activating a deployment does: a roll back to an older one, or publishing a newer one. */
export type ActivateAction = 'Roll back' | 'Publish';

/** Activating a deployment older than the live one is a roll back; anything else publishes. */
export function activateAction(dep: Pick<Deployment, 'created_at'>, live?: Pick<Deployment, 'created_at'>): ActivateAction {
  return live !== undefined && Date.parse(dep.created_at) < Date.parse(live.created_at) ? 'Roll back' : 'Publish';
}

/**
 * The confirmation of "Roll back" / "Publish" (POST …/activate): says what
 * replaces what, and reports the outcome. Shared by the deployments list
 * and a deployment's detail page.
 */
export function ActivateDialog(props: {
  site: string;
  /** The deployment to make live and the action's name; undefined closes the dialog. */
  target?: { dep: Deployment; action: ActivateAction };
  /** The live deployment's id, when there is one. */
  liveId?: string;
  /** After success, with a sentence saying what happened. */
  onDone: (message: string) => void;
  onClose: () => void;
  onUnauthorized: () => void;
}) {
  const { target } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  useEffect(() => setError(''), [target?.dep.id, target?.action]);

  async function confirm() {
    if (!target) return;
    setBusy(true);
    setError('');
    try {
      await api.activateDeployment(props.site, target.dep.id);
      const verb = target.action === 'Roll back' ? 'Rolled back to' : 'Published';
      props.onDone(`${verb} ${target.dep.id}. It is live now.`);
    } catch (err) {
      const m = failed(err, props.onUnauthorized);
      if (m !== undefined) setError(m);
    } finally {
      setBusy(false);
    }
  }

  return (
    <ConfirmDialog
      open={!!target}
      title={!target ? '' : target.action === 'Roll back' ? `Roll back to ${target.dep.id}?` : `Publish ${target.dep.id}?`}
      confirmLabel={target?.action ?? ''}
      busy={busy}
      error={error}
      onConfirm={confirm}
      onClose={props.onClose}
    >
      {target && (
        <p>
          <code>{target.dep.id}</code> ({plural(target.dep.files, 'file')}, created {relativeTime(target.dep.created_at)}) will
          replace {props.liveId ? <code>{props.liveId}</code> : 'nothing'} as the live deployment of <strong>{props.site}</strong>.
          Visitors see it at once.
        </p>
      )}
    </ConfirmDialog>
  );
}
