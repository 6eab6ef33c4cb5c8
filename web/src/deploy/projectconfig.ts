// pier.toml in a dropped folder, read as `pier deploy` reads it
// (cmd/pier/projectconfig.go): the same keys, the same conversions, and
// the same error messages, each naming the key. smol-toml is loaded on
// demand (dynamic import) so that it costs nothing until a folder with a
// pier.toml is dropped.

/** A parsed pier.toml. */
export interface ProjectConfig {
  site?: string;
  /** assets.directory as written, relative to pier.toml. */
  directory?: string;
  htmlHandling?: string;
  notFoundHandling?: string;
  runWorkerFirst?: string[];
  vars?: Record<string, string>;
  /** worker.main as written, relative to pier.toml. */
  workerMain?: string;
}

type Table = Record<string, unknown>;

/** The fields of the file's layout, as the CLI's tomlProject struct. */
const schema: Record<string, 'string' | 'any' | Record<string, 'string' | 'any'>> = {
  site: 'string',
  assets: { directory: 'string', html_handling: 'string', not_found_handling: 'string', run_worker_first: 'any' },
  vars: 'any',
  worker: { main: 'string' },
};

/** How Go prints the struct a table decodes into, for the CLI's "type mismatch" message. */
const structText: Record<string, string> = {
  assets:
    'struct { Directory string "toml:\\"directory\\""; HTMLHandling string "toml:\\"html_handling\\""; NotFoundHandling string "toml:\\"not_found_handling\\""; RunWorkerFirst interface {} "toml:\\"run_worker_first\\"" }',
  worker: 'struct { Main string "toml:\\"main\\"" }',
};

/** Parses the text of a pier.toml; name is used in error messages. Throws an Error with the CLI's message. */
export async function parseProjectConfig(name: string, text: string): Promise<ProjectConfig> {
  const { parse, TomlError } = await import('smol-toml');
  let doc: Table;
  try {
    doc = parse(text, { integersAsBigInt: true }) as Table;
  } catch (err) {
    if (err instanceof TomlError) {
      const msg = err.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
      throw new Error(`${name}: line ${err.line}: ${msg}`);
    }
    throw err;
  }
  return mapProjectConfig(name, doc, text);
}

/** Maps a parsed TOML document (integers as bigint) to the config, checking it as the CLI does. */
export function mapProjectConfig(name: string, doc: Table, text = ''): ProjectConfig {
  // Decoding: a value of the wrong type for its field.
  for (const [key, want] of Object.entries(schema)) {
    if (!(key in doc)) continue;
    const v = doc[key];
    if (want === 'string' && typeof v !== 'string') {
      throw new Error(`${name}: ${where(text, '', key)}incompatible types: TOML value has type ${goType(v)}; destination has type string`);
    }
    if (typeof want === 'object') {
      if (!isTable(v)) {
        throw new Error(`${name}: ${where(text, '', key)}type mismatch for ${structText[key]}: expected table but found ${goType(v)}`);
      }
      for (const [sub, subWant] of Object.entries(want)) {
        if (sub in v && subWant === 'string' && typeof v[sub] !== 'string') {
          throw new Error(
            `${name}: ${where(text, key, sub)}incompatible types: TOML value has type ${goType(v[sub])}; destination has type string`,
          );
        }
      }
    }
  }
  // Unknown keys are errors, so a typo is never ignored.
  const unknown: string[] = [];
  for (const [key, v] of Object.entries(doc)) {
    const want = schema[key];
    if (want === undefined) {
      undecoded(key, v, unknown);
    } else if (typeof want === 'object' && isTable(v)) {
      for (const [sub, sv] of Object.entries(v)) {
        if (!(sub in want)) undecoded(`${key}.${sub}`, sv, unknown);
      }
    } else if (key === 'vars' && isTable(v)) {
      // A table as a variable's value: its keys are not decoded.
      for (const [k, vv] of Object.entries(v)) {
        if (isTable(vv)) for (const [kk, x] of Object.entries(vv)) undecoded(`vars.${k}.${kk}`, x, unknown);
      }
    }
  }
  if (unknown.length > 0) throw new Error(`${name}: unknown key ${unknown.join(', ')}`);

  const assets = (doc.assets as Table | undefined) ?? {};
  const worker = (doc.worker as Table | undefined) ?? {};
  const c: ProjectConfig = {};
  if (doc.site) c.site = doc.site as string;
  if (assets.directory) c.directory = assets.directory as string;
  if (assets.html_handling) c.htmlHandling = assets.html_handling as string;
  if (assets.not_found_handling) c.notFoundHandling = assets.not_found_handling as string;
  if (worker.main) c.workerMain = worker.main as string;
  const rwf = parseRunWorkerFirst(name, assets.run_worker_first);
  if (rwf) c.runWorkerFirst = rwf;
  const vars = parseVars(name, isTable(doc.vars) ? doc.vars : undefined);
  if (vars) c.vars = vars;
  return c;
}

/** assets.run_worker_first: true (every path, "*"), false or absent (none), or a list of path patterns. */
function parseRunWorkerFirst(name: string, v: unknown): string[] | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return ['*'];
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const p of v) {
      if (typeof p !== 'string' || (p !== '*' && !p.startsWith('/') && !p.startsWith('!/'))) {
        throw new Error(
          `${name}: assets.run_worker_first: ${goValue(p)} is not a path pattern (want strings like "/api/*", or "*")`,
        );
      }
      out.push(p);
    }
    return out.length > 0 ? out : undefined;
  }
  throw new Error(`${name}: assets.run_worker_first must be true, false or a list of path patterns`);
}

/** The [vars] table as strings (numbers and booleans as the CLI writes them); errors name the first bad key in sorted order. */
function parseVars(name: string, vars: Table | undefined): Record<string, string> | undefined {
  if (!vars) return undefined;
  const keys = Object.keys(vars).sort(byBytes);
  if (keys.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = vars[k];
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'bigint') out[k] = v.toString();
    else if (typeof v === 'number') out[k] = formatFloat(v);
    else if (typeof v === 'boolean') out[k] = String(v);
    else throw new Error(`${name}: vars.${k} must be a string, number or boolean`);
  }
  return out;
}

/**
 * Go's strconv.FormatFloat(v, 'g', -1, 64): the shortest digits, in %e form
 * when the exponent is < -4 or >= eprec (6; fmt's %v uses 21).
 */
export function formatFloat(v: number, eprec = 6): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mant, e] = v.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= eprec) {
    const sign = exp < 0 ? '-' : '+';
    const digits = String(Math.abs(exp)).padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  // Plain notation with the shortest digits: JavaScript's own below 1e21.
  return String(v);
}

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** The Go type BurntSushi/toml decodes a TOML value into, as its errors name it. */
function goType(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'bigint') return 'int64';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof Date) return 'time.Time';
  if (Array.isArray(v)) return v.length > 0 && v.every(isTable) ? '[]map[string]any' : '[]any';
  return 'map[string]any';
}

/** A value as Go's %v prints it. */
function goValue(v: unknown): string {
  if (typeof v === 'number') return formatFloat(v, 21);
  if (Array.isArray(v)) return '[' + v.map(goValue).join(' ') + ']';
  if (isTable(v)) return 'map[' + Object.keys(v).sort(byBytes).map((k) => `${k}:${goValue(v[k])}`).join(' ') + ']';
  return String(v);
}

/** Records key (and, for a table, every key below it) as not decoded. */
function undecoded(key: string, v: unknown, out: string[]): void {
  out.push(key);
  if (isTable(v)) for (const [k, x] of Object.entries(v)) undecoded(`${key}.${k}`, x, out);
}

function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "line N (last key "t.k"): " for the line of text that sets key in table, or `key "t.k": ` when it cannot be found. */
function where(text: string, table: string, key: string): string {
  const full = table ? `${table}.${key}` : key;
  const line = findKeyLine(text, table, key);
  return line ? `line ${line} (last key "${full}"): ` : `key "${full}": `;
}

/** The 1-based line that sets key in table (or the table itself when key is a table), or 0. */
export function findKeyLine(text: string, table: string, key: string): number {
  const lines = text.split('\n');
  let current = '';
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/;
  for (let i = 0; i < lines.length; i++) {
    const h = header.exec(lines[i]);
    if (h) {
      current = h[1].replace(/\s*\.\s*/g, '.').replace(/"/g, '');
      if (current === (table ? `${table}.${key}` : key)) return i + 1;
      continue;
    }
    const setsKey = new RegExp(`^\\s*("?)${esc(key)}\\1\\s*=`);
    const setsDotted = table ? new RegExp(`^\\s*${esc(table)}\\s*\\.\\s*${esc(key)}\\s*=`) : undefined;
    if (current === table && setsKey.test(lines[i])) return i + 1;
    if (current === '' && setsDotted?.test(lines[i])) return i + 1;
  }
  return 0;
}
