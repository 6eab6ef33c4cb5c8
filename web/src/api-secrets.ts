// A site's secrets (docs/api.md: secrets): names and times only, since
// the API never answers a value. On the shared client.
import { api } from './api';

/** A secret as the API lists it: never its value. */
export interface Secret {
  name: string;
  created_at: string;
  updated_at: string;
}

const secretsPath = (site: string) => '/sites/' + encodeURIComponent(site) + '/secrets';

/** The site's secrets. */
export async function listSecrets(site: string): Promise<Secret[]> {
  const res = await api.request<{ secrets: Secret[] | null }>('GET', secretsPath(site));
  return res.secrets ?? [];
}

/** Adds or replaces a secret; the answer has its name and times, not its value. */
export function putSecret(site: string, name: string, value: string): Promise<Secret> {
  return api.request<Secret>('PUT', secretsPath(site) + '/' + encodeURIComponent(name), { value });
}

/** Deletes a secret. */
export async function deleteSecret(site: string, name: string): Promise<void> {
  await api.request<void>('DELETE', secretsPath(site) + '/' + encodeURIComponent(name));
}
