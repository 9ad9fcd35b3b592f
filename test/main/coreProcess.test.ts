// The core's utility-process bundle, built as `npm start` builds it, run in plain Node with a
// stand-in for Electron's parentPort (utilityProcessHarness.mjs), and driven by the main process's
// own CoreConnection: a real library indexes real photos through the bundled inference worker,
// serves thumbnails, and sends a duplicate to the "OS trash" through the main process.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent, ApiOutput } from '../../app/api/contract.js';
import { CORE_BUNDLE } from '../../main/bundleLayout.js';
import { CoreConnection } from '../../main/coreChannel.js';
import { buildDesktopBundles } from '../../scripts/desktopBuild.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const HARNESS = fileURLToPath(new URL('./utilityProcessHarness.mjs', import.meta.url));

let tmp: string;
let bundleDir: string;
let child: ChildProcess;
let core: CoreConnection;
let exitCode: Promise<number | null>;
const events: ApiEvent[] = [];
const trashed: string[] = [];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-core-process-'));
  // Inside the project, as dist/main is: the bundle finds the project root (resources/models) by walking up.
  bundleDir = path.join(ROOT, 'test-output', `core-bundle-${process.pid}`);
  await buildDesktopBundles(ROOT, bundleDir);
  const photos = path.join(tmp, 'photos');
  await fs.mkdir(photos);
  await fs.copyFile(path.join(DATA, 'near-dup/base_images/ukbench00120.jpg'), path.join(photos, 'a.jpg'));
  await fs.copyFile(path.join(DATA, 'near-dup/ukbench00120_gray.jpg'), path.join(photos, 'a-grey.jpg'));
  await fs.copyFile(path.join(DATA, 'near-dup/base_images/ukbench08976.jpg'), path.join(photos, 'b.jpg'));

  child = fork(HARNESS, [path.join(bundleDir, CORE_BUNDLE)], {
    serialization: 'advanced',
    env: { ...process.env, SIGHTLINE_DATA_DIR: path.join(tmp, 'data') },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  exitCode = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  core = new CoreConnection((m) => child.send(m), {
    // What shell.trashItem does, as far as the core can tell: the file leaves its folder.
    moveToTrash: async (file) => {
      trashed.push(file);
      await fs.rename(file, path.join(tmp, path.basename(file)));
    },
    onEvent: (e) => events.push(e),
  });
  child.on('message', (m) => core.receive(m));
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill();
  await fs.rm(tmp, { recursive: true, force: true });
  if (bundleDir) await fs.rm(bundleDir, { recursive: true, force: true });
});

async function until<T>(what: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 180_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await what();
    if (done(value)) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the core utility process bundle', () => {
  it('opens a library that empties files into the OS trash', async () => {
    const status = (await core.call('getStatus', {})) as ApiOutput<'getStatus'>;
    expect(status.trash).toBe('os');
    expect(status.database).toBe(path.join(tmp, 'data', 'library.db'));
  });

  it('indexes a folder with the bundled inference worker, pushing events as it goes', async () => {
    await core.call('addFolder', { path: path.join(tmp, 'photos') });
    const status = await until(
      async () => (await core.call('getStatus', {})) as ApiOutput<'getStatus'>,
      (s) => s.indexing.state === 'idle' && s.photos.indexed + s.photos.failed === 3,
      60_000,
    );
    expect(status.photos).toMatchObject({ indexed: 3, failed: 0 });
    expect(events.some((e) => e.type === 'indexing')).toBe(true);
  }, 240_000);

  it('serves thumbnails and viewer images as bytes, and null for an unknown id', async () => {
    const page = (await core.call('listPhotos', {})) as ApiOutput<'listPhotos'>;
    const thumb = await core.readMedia('thumb', page.items[0].id);
    expect(thumb?.contentType).toBe('image/jpeg');
    expect([...Buffer.from(thumb!.bytes).subarray(0, 2)]).toEqual([0xff, 0xd8]);
    const image = await core.readMedia('image', page.items[0].id);
    expect(image?.contentType).toBe('image/jpeg');
    expect([image!.bytes[0], image!.bytes[1]]).toEqual([0xff, 0xd8]);
    await expect(core.readMedia('thumb', 999_999)).resolves.toBeNull();
  });

  it('moves a duplicate to the trash through the main process', async () => {
    const groups = (await core.call('duplicateGroups', { tier: 'near' })) as ApiOutput<'duplicateGroups'>;
    expect(groups.groups).toHaveLength(1);
    const [group] = groups.groups;
    const result = (await core.call('decideDuplicates', { action: 'trash_others', members: group.members.map((m) => m.photoId), keeper: group.keeper })) as ApiOutput<'decideDuplicates'>;
    expect(result.trashFailures).toEqual([]);
    expect(result.trashed).toHaveLength(group.members.length - 1);
    expect(trashed).toEqual(result.trashed);
    await expect(fs.access(result.trashed[0])).rejects.toThrow();
  });

  it('refuses what the contract does not allow, in the core too', async () => {
    await expect(core.call('getPhoto', { photoId: -3 })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('closes the library and exits cleanly on shutdown', async () => {
    core.shutdown();
    await core.closed;
    expect(await exitCode).toBe(0);
  });
});
