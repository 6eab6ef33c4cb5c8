// The logic of a site's secrets section: names and values checked before
// asking (the server checks again). Pure functions, unit-tested in
// secrets.test.ts.

/** The most bytes a secret's value may have (5 KiB). */
export const MAX_SECRET_BYTES = 5 * 1024;

/** The most secrets a site may have. */
export const MAX_SECRETS = 100;

/** The most characters of a secret's name. */
export const MAX_SECRET_NAME = 64;

/** Why name cannot name a secret, or '': [A-Za-z_][A-Za-z0-9_]{0,63}, as an environment variable. */
export function secretNameError(name: string): string {
  if (name === '') return 'Give the secret a name, such as API_KEY.';
  if (name.length > MAX_SECRET_NAME) return `A secret name has at most ${MAX_SECRET_NAME} characters (this one has ${name.length}).`;
  if (/^[0-9]/.test(name)) return 'A secret name cannot start with a digit.';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return 'Use only letters A–Z and a–z, digits and _ (as in API_KEY).';
  return '';
}

/** Why value cannot be a secret's value, or '': not empty, at most 5 KiB of UTF-8. */
export function secretValueError(value: string): string {
  if (value === '') return 'Give the secret a value.';
  const n = new TextEncoder().encode(value).length;
  if (n > MAX_SECRET_BYTES) return `A secret’s value has at most ${MAX_SECRET_BYTES.toLocaleString('en')} bytes (this one has ${n.toLocaleString('en')}).`;
  return '';
}
