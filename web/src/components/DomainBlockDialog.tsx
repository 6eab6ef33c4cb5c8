import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Domain } from '../api';
import { blockDoneText, blockWords, setBlocked, type BlockTarget } from '../domainblock';
import { ConfirmDialog } from './ConfirmDialog';

/**
 * The operator's confirmation of blocking or unblocking a claim (the
 * Domains page's and the attention page's). On success it hands the
 * claim as stored and a sentence to announce to onDone.
 */
export function DomainBlockDialog(props: {
  target: BlockTarget | undefined;
  onDone: (d: Domain, notice: string) => void;
  onClose: () => void;
  onUnauthorized: () => void;
}) {
  const { target } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => setError(''), [target]);

  async function confirm() {
    if (!target) return;
    setBusy(true);
    setError('');
    try {
      const d = await setBlocked(target.domain, target.action);
      props.onDone(d, blockDoneText(d, target.action));
    } catch (err) {
      if (err instanceof ApiError && err.unauthorized) return props.onUnauthorized();
      if (err instanceof ApiError && err.status === 404) setError(`${target.domain.hostname} is no longer claimed by this site: it was removed meanwhile.`);
      else if (err instanceof ApiError && err.status === 403) setError('Only an operator (an admin token) may block or unblock a domain.');
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const words = target ? blockWords(target.domain, target.action) : undefined;
  return (
    <ConfirmDialog
      open={!!target}
      title={words?.title ?? ''}
      confirmLabel={words?.confirmLabel ?? ''}
      danger={words?.danger}
      busy={busy}
      error={error}
      onConfirm={confirm}
      onClose={props.onClose}
    >
      {words?.lines.map((l) => <p key={l}>{l}</p>)}
    </ConfirmDialog>
  );
}
