import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCleanBoxes } from '../../app/train/rpnTraining.js';

describe('RPN training targets', () => {
  it('takes the kept photos that have a box from a `sightline clean` report, paths resolved', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rpn-clean-'));
    const report = {
      dataset: 'images',
      photos: [
        { path: 'a/1.jpg', class: 'a', kept: true, neighbours: [], box: { x: 1, y: 2, width: 30, height: 40 } },
        { path: 'a/2.jpg', class: 'a', kept: false, neighbours: [], box: { x: 1, y: 2, width: 30, height: 40 } },
        { path: 'b/3.jpg', class: 'b', kept: true, neighbours: [], box: null },
        { path: 'b/4.jpg', class: 'b', kept: true, neighbours: [], box: { x: 5, y: 5, width: 0, height: 9 } },
      ],
    };
    const file = path.join(dir, 'clean.json');
    await fs.writeFile(file, JSON.stringify(report));
    expect(await readCleanBoxes(file)).toEqual([{ path: path.join(dir, 'images', 'a', '1.jpg'), class: 'a', box: { x: 1, y: 2, width: 30, height: 40 } }]);
    expect((await readCleanBoxes(file, '/data/x'))[0].path).toBe(path.join('/data/x', 'a', '1.jpg'));
    await fs.writeFile(file, JSON.stringify({ classes: [] }));
    await expect(readCleanBoxes(file)).rejects.toThrow(/not a `sightline clean` report/);
    await fs.rm(dir, { recursive: true });
  });
});
