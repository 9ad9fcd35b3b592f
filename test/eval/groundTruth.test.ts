import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  loadOxfordGroundTruth,
  loadRevisitedGroundTruth,
  parseNameList,
  parseQueryFile,
  parseRevisitedGroundTruth,
  revisitedPositivesAndJunk,
} from '../../app/eval/groundTruth.js';

const parisGt = fileURLToPath(new URL('../../../shared/data/paris6k-mini/gt', import.meta.url));

const tmpDirs: string[] = [];
async function tmpGt(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sightline-gt-'));
  tmpDirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}
afterEach(async () => {
  await Promise.all(tmpDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('loadOxfordGroundTruth', () => {
  it('reads the 55 Paris6k queries in name order', async () => {
    const gt = await loadOxfordGroundTruth(parisGt);
    expect(gt).toHaveLength(55);
    expect(gt[0].name).toBe('defense_1');
    expect(gt.at(-1)!.name).toBe('triomphe_5');
    const eiffel3 = gt.find((q) => q.name === 'eiffel_3')!;
    expect(eiffel3.image).toBe('paris_eiffel_000266');
    expect(eiffel3.box).toEqual({ x1: 348, y1: 3, x2: 595, y2: 508 });
    // This copy's _good lists are empty; the positives are all in _ok (shared/data/README.md).
    expect(eiffel3.good).toEqual([]);
    expect(eiffel3.ok).toHaveLength(289);
    expect(eiffel3.junk).toHaveLength(473);
    // triomphe_5's query photo was filed under defense in the dataset.
    expect(gt.find((q) => q.name === 'triomphe_5')!.image).toBe('paris_defense_000038');
  });

  it('orders query numbers naturally', async () => {
    const files: Record<string, string> = {};
    for (const n of [10, 2, 1]) {
      files[`a_${n}_query.txt`] = `img${n} 0 0 1 1\n`;
      for (const kind of ['good', 'ok', 'junk']) files[`a_${n}_${kind}.txt`] = '';
    }
    expect((await loadOxfordGroundTruth(await tmpGt(files))).map((q) => q.name)).toEqual(['a_1', 'a_2', 'a_10']);
  });

  it('names the file and line of a malformed query line', async () => {
    const dir = await tmpGt({ 'x_1_query.txt': '\nimg 1 2 three 4\n', 'x_1_good.txt': '', 'x_1_ok.txt': '', 'x_1_junk.txt': '' });
    await expect(loadOxfordGroundTruth(dir)).rejects.toThrow(/x_1_query\.txt:2: box coordinates are not numbers/);
  });

  it('names the file and line of a malformed list line', async () => {
    const dir = await tmpGt({ 'x_1_query.txt': 'img 1 2 3 4\n', 'x_1_good.txt': '', 'x_1_ok.txt': 'a\nb c\n', 'x_1_junk.txt': '' });
    await expect(loadOxfordGroundTruth(dir)).rejects.toThrow(/x_1_ok\.txt:2: expected one image name/);
  });

  it('refuses a query whose lists are missing', async () => {
    const dir = await tmpGt({ 'x_1_query.txt': 'img 1 2 3 4\n', 'x_1_good.txt': '', 'x_1_junk.txt': '' });
    await expect(loadOxfordGroundTruth(dir)).rejects.toThrow(/x_1 is incomplete: .*x_1_ok\.txt is missing/);
  });

  it('refuses a folder without queries', async () => {
    await expect(loadOxfordGroundTruth(await tmpGt({ 'readme.txt': '' }))).rejects.toThrow(/No \*_query\.txt/);
  });
});

describe('parseQueryFile / parseNameList', () => {
  it('strips the oxc1_ prefix Oxford5k puts on query images, and reads float boxes', () => {
    expect(parseQueryFile('oxc1_all_souls_000013 136.5 34.1 648.5 955.7\n')).toEqual({
      image: 'all_souls_000013',
      box: { x1: 136.5, y1: 34.1, x2: 648.5, y2: 955.7 },
    });
  });

  it('rejects extra fields, several lines and inverted boxes', () => {
    expect(() => parseQueryFile('img 1 2 3 4 5', 'q.txt')).toThrow(/q\.txt:1: expected "image x1 y1 x2 y2"/);
    expect(() => parseQueryFile('img 1 2 3 4\nimg 1 2 3 4', 'q.txt')).toThrow(/q\.txt: expected exactly one line/);
    expect(() => parseQueryFile('img 5 2 3 4', 'q.txt')).toThrow(/q\.txt:1: empty or inverted box/);
  });

  it('tolerates CRLF and blank lines in lists', () => {
    expect(parseNameList('a\r\n\r\nb\r\n')).toEqual(['a', 'b']);
  });
});

describe('revisited ground truth', () => {
  const q = { easy: ['e1', 'e2'], hard: ['h1'], junk: ['j1'] };

  it('builds the three protocols as Radenović et al. define them', () => {
    const easy = revisitedPositivesAndJunk(q, 'easy');
    expect([...easy.positives].sort()).toEqual(['e1', 'e2']);
    expect([...easy.junk].sort()).toEqual(['h1', 'j1']);
    const medium = revisitedPositivesAndJunk(q, 'medium');
    expect([...medium.positives].sort()).toEqual(['e1', 'e2', 'h1']);
    expect([...medium.junk]).toEqual(['j1']);
    const hard = revisitedPositivesAndJunk(q, 'hard');
    expect([...hard.positives]).toEqual(['h1']);
    expect([...hard.junk].sort()).toEqual(['e1', 'e2', 'j1']);
  });

  it('resolves the JSON form of gnd_*.pkl, indices into imlist', async () => {
    const json = {
      imlist: ['a', 'b', 'c', 'd'],
      qimlist: ['q1', 'q2'],
      gnd: [
        { bbx: [1.5, 2, 30, 40], easy: [0, 2], hard: [1], junk: [3] },
        { bbx: [0, 0, 10, 10], easy: [], hard: [3], junk: [] },
      ],
    };
    const dir = await tmpGt({ 'gnd.json': JSON.stringify(json) });
    const gt = await loadRevisitedGroundTruth(path.join(dir, 'gnd.json'));
    expect(gt.imlist).toEqual(['a', 'b', 'c', 'd']);
    expect(gt.queries[0]).toEqual({ name: 'q1', box: { x1: 1.5, y1: 2, x2: 30, y2: 40 }, easy: ['a', 'c'], hard: ['b'], junk: ['d'] });
    // No easy image: under Easy this query has no positives and is skipped by meanAveragePrecision.
    expect(revisitedPositivesAndJunk(gt.queries[1], 'easy').positives.size).toBe(0);
  });

  it('rejects indices outside imlist and mismatched lengths', () => {
    expect(() => parseRevisitedGroundTruth({ imlist: ['a'], qimlist: ['q'], gnd: [{ easy: [1], hard: [], junk: [] }] }, 'g.json')).toThrow(
      /g\.json: gnd\[0\]\.easy\[0\] = 1 is not an index into imlist/,
    );
    expect(() => parseRevisitedGroundTruth({ imlist: ['a'], qimlist: ['q', 'r'], gnd: [] }, 'g.json')).toThrow(/"gnd" has 0 entries but "qimlist" has 2/);
    expect(() => parseRevisitedGroundTruth([], 'g.json')).toThrow(/"imlist" must be/);
  });
});
