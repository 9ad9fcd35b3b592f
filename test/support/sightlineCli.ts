// The real `sightline` command in a child process, as a user runs it, for the CLI tests: its own
// data dir, no colours, and stdin a closed pipe (never a TTY: nothing may wait for an answer).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The Paris6k sample photos in ../shared/data, by landmark folder. */
export const PARIS = fileURLToPath(new URL('../../../shared/data/paris6k-mini/images/', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sightline <args>` with SIGHTLINE_DATA_DIR set to dataDir; killed after timeoutMs. */
export function runSightline(args: string[], options: { dataDir: string; timeoutMs: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/sightline.js', ...args], { cwd: ROOT, env: { ...process.env, SIGHTLINE_DATA_DIR: options.dataDir, FORCE_COLOR: '0' }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `sightline <args>` as runSightline does and expects it to succeed, saying what it printed if not. */
export async function runSightlineOk(args: string[], options: { dataDir: string; timeoutMs: number }): Promise<CliResult> {
  const r = await runSightline(args, options);
  expect(r.code, `sightline ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

/**
 * Makes a dataset folder of class subfolders whose photos are links to files under source (never
 * copies); gives each photo's path relative to the dataset, with its class.
 */
export async function linkDataset(dataset: string, classes: Record<string, string[]>, source = PARIS): Promise<Array<{ path: string; class: string }>> {
  const linked = [];
  for (const [cls, files] of Object.entries(classes)) {
    await fs.mkdir(path.join(dataset, cls), { recursive: true });
    for (const f of files) {
      await fs.symlink(path.join(source, f), path.join(dataset, cls, path.basename(f)));
      linked.push({ path: `${cls}/${path.basename(f)}`, class: cls });
    }
  }
  return linked;
}
