// What the Deploy page loads on demand (dynamic import) when a folder
// arrives, so that none of it weighs on the console's first load.
export { buildTree } from './tree';
export { planFolder } from './folder';
export { deployFolder, xhrPutBlob, DeployError } from './deploy';
export { HashPool } from './hasher';
