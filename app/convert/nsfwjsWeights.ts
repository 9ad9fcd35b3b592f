// Loads the TF.js models that the nsfwjs npm package ships, so the offline default model comes
// from registry-distributed weights. nsfwjs bundles each model as UMD .min.js files: model.min.js
// evaluates to the model.json object, each group1-shardKofN.min.js to the base64 text of the
// binary shard.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { decodeWeightGroups, type GraphModelSource, type TfjsModelJson } from './tfjsGraphToOnnx.js';

export type NsfwjsModelName = 'mobilenet_v2_mid' | 'mobilenet_v2' | 'inception_v3';

/**
 * nsfwjs's own preprocessing divides 0–255 pixels by 255 before the graph (core.js,
 * normalizationOffset = 255); the graph's hub_input Mul/Sub then maps [0, 1] to [−1, 1].
 */
export const NSFWJS_INPUT_SCALE = 1 / 255;

const require = createRequire(import.meta.url);

export interface NsfwjsPackageInfo {
  root: string;
  version: string;
  license: string;
}

let packageInfo: NsfwjsPackageInfo | undefined;

/** Where nsfwjs is installed, with the version and licence to record in model metadata. */
export function nsfwjsPackageInfo(): NsfwjsPackageInfo {
  if (!packageInfo) {
    const root = packageRoot();
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; license?: string };
    packageInfo = { root, version: pkg.version, license: pkg.license ?? 'UNKNOWN' };
  }
  return packageInfo;
}

function packageRoot(): string {
  try {
    return path.dirname(require.resolve('nsfwjs/package.json'));
  } catch (err) {
    // nsfwjs 4.x has an "exports" map without ./package.json, so that resolve throws; find the
    // package from its entry point instead.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw err;
  }
  let dir = path.dirname(require.resolve('nsfwjs'));
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate) && (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'nsfwjs') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot locate the nsfwjs package root');
    dir = parent;
  }
}

/** The raw artifacts: model.json and, per manifest group, the concatenated decoded shard bytes (still quantised). */
export interface NsfwjsArtifacts {
  modelJson: TfjsModelJson;
  groupData: Uint8Array[];
}

export function readNsfwjsArtifacts(name: NsfwjsModelName): NsfwjsArtifacts {
  const dir = path.join(nsfwjsPackageInfo().root, 'dist', 'models', name);
  const modelJson = loadBundle(path.join(dir, 'model.min.js')) as TfjsModelJson;
  if (!modelJson || !Array.isArray(modelJson.weightsManifest)) throw new Error(`nsfwjs ${name}: model.min.js holds no model.json`);
  const groupData = modelJson.weightsManifest.map((group) => new Uint8Array(Buffer.concat(group.paths.map((p) => {
    const file = path.join(dir, `${p}.min.js`);
    return decodeShard(loadBundle(file), file);
  }))));
  return { modelJson, groupData };
}

/** An nsfwjs model as a GraphModelSource; mobilenet_v2 and inception_v3 are layers-models (Keras), only mobilenet_v2_mid is a graph model. */
export async function readNsfwjsModel(name: NsfwjsModelName): Promise<GraphModelSource> {
  const { modelJson, groupData } = readNsfwjsArtifacts(name);
  try {
    return { modelJson, weights: decodeWeightGroups(modelJson.weightsManifest, groupData), inputScale: NSFWJS_INPUT_SCALE };
  } catch (err) {
    throw new Error(`nsfwjs ${name}: ${(err as Error).message}`);
  }
}

function loadBundle(file: string): unknown {
  const resolved = require.resolve(file);
  try {
    return require(resolved);
  } finally {
    // Shards are megabytes of base64 text; the require cache would keep them (and a shared,
    // mutable model.json) alive for the life of the process.
    delete require.cache[resolved];
  }
}

function decodeShard(content: unknown, file: string): Buffer {
  // Buffer.from(…, 'base64') skips characters it does not know, so a wrong bundle would decode
  // to garbage of a plausible length instead of failing.
  if (typeof content !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(content)) {
    throw new Error(`${file} does not hold a base64 shard string`);
  }
  return Buffer.from(content, 'base64');
}
