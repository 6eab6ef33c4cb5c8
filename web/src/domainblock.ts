// The operator's Block / Unblock of a site's claim on a hostname (the
// console's `pier domains block|unblock`): the API calls, and what the
// confirmation and the outcome say, kept apart from the markup so they
// can be unit tested. Admin only: a tenant never sees these actions (the
// API answers it 403).
import { api, type Domain } from './api';

export type BlockAction = 'block' | 'unblock';

/** A claim and what the operator is about to do with it. */
export interface BlockTarget {
  domain: Domain;
  action: BlockAction;
}

/** The action a claim offers an operator: Unblock for a blocked one, Block for any other. */
export function blockActionFor(d: Pick<Domain, 'status'>): BlockAction {
  return d.status === 'blocked' ? 'unblock' : 'block';
}

/** What the confirmation dialog of an action says. */
export interface BlockWords {
  title: string;
  confirmLabel: string;
  /** The consequences, one sentence per line. */
  lines: string[];
  /** Whether the confirm button is styled as destructive. */
  danger: boolean;
}

/** The confirmation's words for blocking or unblocking d. */
export function blockWords(d: Pick<Domain, 'hostname' | 'site' | 'status' | 'cert_status'>, action: BlockAction): BlockWords {
  const site = d.site ? ` of the site ${d.site}` : '';
  if (action === 'block') {
    const lines: string[] = [];
    if (d.status === 'active') {
      lines.push(`${d.hostname} is active: it stops being served at once, and its visitors get an error.`);
    }
    lines.push(
      d.cert_status === 'none'
        ? 'A blocked claim is never checked and proves nothing.'
        : 'A blocked claim is never checked, proves nothing, and no certificate is ordered for it.',
    );
    lines.push('Its tenant sees it as blocked by the platform operator until an operator unblocks it.');
    return { title: `Block ${d.hostname}${site}?`, confirmLabel: 'Block domain', lines, danger: true };
  }
  return {
    title: `Unblock ${d.hostname}${site}?`,
    confirmLabel: 'Unblock domain',
    lines: [
      'The claim goes back to pending, and Pier checks it again at once.',
      'It is served, and gets a certificate, only once its DNS proves ownership again.',
    ],
    danger: false,
  };
}

/** What the page announces once the action is done, from the claim the API answered. */
export function blockDoneText(d: Pick<Domain, 'hostname' | 'status'>, action: BlockAction): string {
  if (action === 'block') return `Blocked ${d.hostname}: it is not served, checked or given a certificate.`;
  return d.status === 'active'
    ? `Unblocked ${d.hostname}: it is active again.`
    : `Unblocked ${d.hostname}: it is pending verification again.`;
}

/** The claim's path in the API: by the site's id when known (ids never change), else its name. */
const claimPath = (d: Pick<Domain, 'hostname' | 'site' | 'site_id'>) =>
  `/sites/${encodeURIComponent(d.site_id || d.site)}/domains/${encodeURIComponent(d.hostname)}`;

/** POST …/block or …/unblock (admin only); answers the claim as stored. */
export function setBlocked(d: Pick<Domain, 'hostname' | 'site' | 'site_id'>, action: BlockAction): Promise<Domain> {
  return api.request<Domain>('POST', claimPath(d) + '/' + action);
}
