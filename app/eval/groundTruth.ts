// Ground truth of the Oxford5k / Paris6k benchmarks (Philbin et al.) and of their revisited
// versions (Radenović et al. 2018), read from the files the datasets ship, so our numbers are
// comparable with the published ones (DESIGN.md §1.6).
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface OxfordQuery {
  /** e.g. `eiffel_3`: the file prefix of `<name>_query.txt`. */
  name: string;
  /** Image name without extension, e.g. `paris_eiffel_000266`. */
  image: string;
  box: Box;
  good: string[];
  ok: string[];
  junk: string[];
}

const QUERY_FILE = /^(.+)_(\d+)_query\.txt$/;

/**
 * Reads every `<landmark>_<n>_query.txt` of an Oxford5k / Paris6k `gt` folder with its
 * `_good`, `_ok` and `_junk` lists. A missing list is an error: a silently empty `ok` list
 * would turn every positive into a negative and still produce a plausible-looking mAP.
 */
export async function loadOxfordGroundTruth(gtDir: string): Promise<OxfordQuery[]> {
  const entries = await fs.readdir(gtDir);
  const names = entries
    .map((f) => QUERY_FILE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: `${m[1]}_${m[2]}`, landmark: m[1], n: Number(m[2]) }));
  if (names.length === 0) throw new Error(`No *_query.txt files in ground-truth folder ${gtDir}`);
  // Natural order (louvre_2 before louvre_10) keeps the per-query tables in the datasets' order.
  names.sort((a, b) => (a.landmark < b.landmark ? -1 : a.landmark > b.landmark ? 1 : a.n - b.n));

  return Promise.all(
    names.map(async ({ name }) => {
      const queryFile = path.join(gtDir, `${name}_query.txt`);
      const { image, box } = parseQueryFile(await fs.readFile(queryFile, 'utf8'), queryFile);
      const [good, ok, junk] = await Promise.all(
        (['good', 'ok', 'junk'] as const).map(async (kind) => {
          const file = path.join(gtDir, `${name}_${kind}.txt`);
          return parseNameList(await readListFile(file, name), file);
        }),
      );
      return { name, image, box, good, ok, junk };
    }),
  );
}

async function readListFile(file: string, query: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`Ground truth of query ${query} is incomplete: ${file} is missing`);
    throw err;
  }
}

/** `image x1 y1 x2 y2`. Oxford5k prefixes query images with `oxc1_`, which its image files do not have. */
export function parseQueryFile(text: string, file = '<query>'): { image: string; box: Box } {
  const lines = splitLines(text);
  const content = lines.filter((l) => l.text !== '');
  if (content.length !== 1) {
    throw new Error(`${file}: expected exactly one line "image x1 y1 x2 y2", found ${content.length} non-empty lines`);
  }
  const { text: line, lineNo } = content[0];
  const fields = line.split(/\s+/);
  if (fields.length !== 5) throw new Error(`${file}:${lineNo}: expected "image x1 y1 x2 y2", got "${line}"`);
  const coords = fields.slice(1).map(Number);
  if (coords.some((c) => !Number.isFinite(c))) throw new Error(`${file}:${lineNo}: box coordinates are not numbers in "${line}"`);
  const [x1, y1, x2, y2] = coords;
  if (!(x2 > x1 && y2 > y1)) throw new Error(`${file}:${lineNo}: empty or inverted box in "${line}"`);
  return { image: fields[0].replace(/^oxc1_/, ''), box: { x1, y1, x2, y2 } };
}

/** One image name per line; blank lines are tolerated (several lists end with one). */
export function parseNameList(text: string, file = '<list>'): string[] {
  const names: string[] = [];
  for (const { text: line, lineNo } of splitLines(text)) {
    if (line === '') continue;
    if (/\s/.test(line)) throw new Error(`${file}:${lineNo}: expected one image name, got "${line}"`);
    names.push(line);
  }
  return names;
}

function splitLines(text: string): { text: string; lineNo: number }[] {
  return text.split(/\r?\n/).map((l, i) => ({ text: l.trim(), lineNo: i + 1 }));
}

// ---------------------------------------------------------------------------------------------
// Revisited Oxford / Paris (ROxford5k, RParis6k).

export type RevisitedProtocol = 'easy' | 'medium' | 'hard';

export interface RevisitedQuery {
  /** The query image name (`qimlist[i]`). */
  name: string;
  box?: Box;
  easy: string[];
  hard: string[];
  junk: string[];
}

export interface RevisitedGroundTruth {
  /** Database image names, in the order the indices of `gnd` refer to. */
  imlist: string[];
  queries: RevisitedQuery[];
}

/**
 * Positives and junk of one revisited query under one of the three protocols (Radenović et al.
 * 2018): what a protocol does not count as positive must be junk rather than negative, or a
 * correct retrieval would be punished.
 */
export function revisitedPositivesAndJunk(q: Pick<RevisitedQuery, 'easy' | 'hard' | 'junk'>, protocol: RevisitedProtocol): { positives: Set<string>; junk: Set<string> } {
  switch (protocol) {
    case 'easy':
      return { positives: new Set(q.easy), junk: new Set([...q.junk, ...q.hard]) };
    case 'medium':
      return { positives: new Set([...q.easy, ...q.hard]), junk: new Set(q.junk) };
    case 'hard':
      return { positives: new Set(q.hard), junk: new Set([...q.junk, ...q.easy]) };
    default:
      throw new Error(`Unknown revisited protocol ${String(protocol)}`);
  }
}

/**
 * The JSON form of `gnd_roxford5k.pkl` / `gnd_rparis6k.pkl`: `{imlist, qimlist, gnd: [{bbx, easy,
 * hard, junk}]}` with `easy`/`hard`/`junk` as indices into `imlist` (the pickle is not read:
 * a JSON dump of it carries the same data without a Python dependency).
 */
export function parseRevisitedGroundTruth(data: unknown, source = '<revisited gnd>'): RevisitedGroundTruth {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (typeof data !== 'object' || data === null) fail('expected an object {imlist, qimlist, gnd}');
  const { imlist, qimlist, gnd } = data as Record<string, unknown>;
  const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
  if (!isStringArray(imlist)) return fail('"imlist" must be an array of image names');
  if (!isStringArray(qimlist)) return fail('"qimlist" must be an array of image names');
  if (!Array.isArray(gnd)) return fail('"gnd" must be an array');
  if (gnd.length !== qimlist.length) fail(`"gnd" has ${gnd.length} entries but "qimlist" has ${qimlist.length}`);

  const queries = gnd.map((entry: unknown, qi): RevisitedQuery => {
    if (typeof entry !== 'object' || entry === null) return fail(`gnd[${qi}] must be an object`);
    const e = entry as Record<string, unknown>;
    const names = (key: 'easy' | 'hard' | 'junk'): string[] => {
      const v = e[key] ?? [];
      if (!Array.isArray(v)) return fail(`gnd[${qi}].${key} must be an array of indices`);
      return v.map((idx: unknown, k) => {
        if (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0 || idx >= imlist.length) {
          return fail(`gnd[${qi}].${key}[${k}] = ${JSON.stringify(idx)} is not an index into imlist (0..${imlist.length - 1})`);
        }
        return imlist[idx];
      });
    };
    const q: RevisitedQuery = { name: qimlist[qi], easy: names('easy'), hard: names('hard'), junk: names('junk') };
    if (e.bbx !== undefined && e.bbx !== null) {
      const b = e.bbx;
      if (!Array.isArray(b) || b.length !== 4 || b.some((c) => typeof c !== 'number' || !Number.isFinite(c))) {
        fail(`gnd[${qi}].bbx must be [x1, y1, x2, y2]`);
      }
      const [x1, y1, x2, y2] = b as number[];
      q.box = { x1, y1, x2, y2 };
    }
    return q;
  });
  return { imlist, queries };
}

export async function loadRevisitedGroundTruth(jsonFile: string): Promise<RevisitedGroundTruth> {
  let data: unknown;
  try {
    data = JSON.parse(await fs.readFile(jsonFile, 'utf8'));
  } catch (err) {
    throw new Error(`${jsonFile}: cannot read revisited ground truth: ${(err as Error).message}`);
  }
  return parseRevisitedGroundTruth(data, jsonFile);
}
