// What to deploy from a dropped folder, resolved as `pier deploy DIR`
// resolves it (cmd/pier/deploy.go planDeploy, then walkAssets): pier.toml
// in the folder, assets.directory relative to it, worker.main, the
// serving settings checked before anything is hashed, and the files.
import { PROJECT_FILE, dataDirMarker } from './ignore';
import { parseProjectConfig, type ProjectConfig } from './projectconfig';
import { lookup, walkAssets, type AssetTree, type DirNode, type LocalFile } from './tree';

export const htmlHandlings = ['auto-trailing-slash', 'force-trailing-slash', 'drop-trailing-slash', 'none'] as const;
export const notFoundHandlings = ['none', '404-page', 'single-page-application'] as const;

/** The serving configuration sent with the deployment (the API's `config`). */
export interface DeploymentConfig {
  html_handling?: string;
  not_found_handling?: string;
  run_worker_first?: string[];
  vars?: Record<string, string>;
}

/** What to deploy. */
export interface FolderPlan extends AssetTree {
  /** The folder's name as dropped ("site"). */
  folder: string;
  /** The asset directory below the folder ('' for the folder itself). */
  assetDir: string;
  /** The asset directory for messages: "site" or "site/public". */
  display: string;
  config: DeploymentConfig;
  /** The worker module, when pier.toml names one. */
  worker?: LocalFile;
  /** pier.toml's settings, when the folder has one. */
  project?: ProjectConfig;
}

/** Cleans a relative "/"-path; undefined when it leaves the folder. */
export function cleanRelative(p: string): string | undefined {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else out.push(seg);
  }
  return out.join('/');
}

function join(a: string, b: string): string {
  return a && b ? a + '/' + b : a || b;
}

/**
 * Resolves what the folder (its tree, and its name) deploys. Throws an
 * Error with the CLI's message for a bad pier.toml, a missing asset
 * directory or worker, a bad setting, a bad .assetsignore, a data
 * directory, or nothing to deploy.
 */
export async function planFolder(root: DirNode, folder: string): Promise<FolderPlan> {
  let project: ProjectConfig | undefined;
  const tomlName = join(folder, PROJECT_FILE);
  const toml = root.children.get(PROJECT_FILE);
  if (toml?.kind === 'file') project = await parseProjectConfig(tomlName, await toml.blob.text());
  const pc = project ?? {};

  // assets.directory is relative to pier.toml, here the folder's root.
  let assetDir = '';
  if (pc.directory) {
    if (pc.directory.startsWith('/')) {
      throw new Error(`${tomlName}: assets.directory ${JSON.stringify(pc.directory)} is an absolute path: in a dropped folder it must be relative to ${PROJECT_FILE}`);
    }
    const d = cleanRelative(pc.directory);
    if (d === undefined) {
      throw new Error(`${tomlName}: assets.directory ${JSON.stringify(pc.directory)} leads outside the dropped folder`);
    }
    assetDir = d;
  }
  const display = join(folder, assetDir);

  let worker: LocalFile | undefined;
  if (pc.workerMain) {
    const w = pc.workerMain.startsWith('/') ? undefined : cleanRelative(pc.workerMain);
    const node = w === undefined ? undefined : lookup(root, w);
    if (w === undefined || node === undefined) {
      throw new Error(`worker module: ${join(folder, pc.workerMain)}: no such file in the dropped folder`);
    }
    if (node.kind !== 'file') throw new Error(`worker module ${join(folder, w)} is not a regular file`);
    if (node.blob.size === 0) throw new Error(`worker module: ${join(folder, w)} is empty`);
    worker = { path: w, rel: w, size: node.blob.size, blob: node.blob };
  }

  // Check the enumerations before any hashing; the server checks again.
  if (pc.htmlHandling && !(htmlHandlings as readonly string[]).includes(pc.htmlHandling)) {
    throw new Error(`invalid: html_handling ${JSON.stringify(pc.htmlHandling)} (want auto-trailing-slash, force-trailing-slash, drop-trailing-slash or none)`);
  }
  if (pc.notFoundHandling && !(notFoundHandlings as readonly string[]).includes(pc.notFoundHandling)) {
    throw new Error(`invalid: not_found_handling ${JSON.stringify(pc.notFoundHandling)} (want none, 404-page or single-page-application)`);
  }

  const dir = lookup(root, assetDir);
  if (!dir) throw new Error(`asset directory: ${display}: no such directory in the dropped folder`);
  if (dir.kind !== 'dir') throw new Error(`asset directory ${display} is not a directory`);

  // The directory, and every folder above it that was dropped, may not be a server's data directory.
  const segs = assetDir ? assetDir.split('/') : [];
  for (let i = segs.length; i >= 0; i--) {
    const d = lookup(root, segs.slice(0, i).join('/'));
    const marker = d?.kind === 'dir' ? dataDirMarker(d.children.keys()) : '';
    if (marker) {
      const at = join(folder, segs.slice(0, i).join('/'));
      const what = at === display ? 'is' : `is inside ${at},`;
      throw new Error(`${display} ${what} a Pier server's data directory (it holds ${marker}): it is never published`);
    }
  }

  const tree = await walkAssets(dir);
  if (worker) {
    // The worker module is deployed as the worker, not published as an asset.
    const prefix = assetDir ? assetDir + '/' : '';
    if (worker.rel.startsWith(prefix)) {
      const rel = worker.rel.slice(prefix.length);
      tree.files = tree.files.filter((f) => {
        if (f.rel !== rel) return true;
        tree.bytes -= f.size;
        return false;
      });
    }
  }
  if (tree.files.length === 0 && !worker) throw new Error(`no files to deploy in ${display}`);

  const config: DeploymentConfig = {};
  if (pc.htmlHandling) config.html_handling = pc.htmlHandling;
  if (pc.notFoundHandling) config.not_found_handling = pc.notFoundHandling;
  if (pc.runWorkerFirst) config.run_worker_first = pc.runWorkerFirst;
  if (pc.vars) config.vars = pc.vars;
  return { ...tree, folder, assetDir, display, config, worker, project };
}
