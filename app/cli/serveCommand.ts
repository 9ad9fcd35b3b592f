// `sightline serve`: the desktop app's UI in a browser, for machines without Electron (and for
// the end-to-end tests, which drive it in Chromium).
import path from 'node:path';
import type { Command } from 'commander';
import { SightlineService } from '../api/sightlineService.js';
import { projectRoot } from '../paths.js';
import { startApiServer } from '../server/apiServer.js';
import { openInBrowser } from '../server/browserLauncher.js';
import { positiveInt } from './cliOptions.js';

export const DEFAULT_RENDERER_DIR = path.join(projectRoot, 'dist', 'renderer');

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the Sightline UI on http://127.0.0.1 (for a browser on this machine)')
    .option('--port <n>', 'port (default: a free one)', positiveInt('--port'))
    .option('--open', 'open it in the default browser')
    .option('--db <file>', 'library database (default: library.db in the app data folder)')
    .option('--model <id|path>', 'model id, name or path')
    .option('--no-watch', 'do not watch the library folders for changes')
    .action(async (opts: { port?: number; open?: boolean; db?: string; model?: string; watch: boolean }) => {
      const service = await SightlineService.open({ dbPath: opts.db, model: opts.model, watch: opts.watch });
      let server;
      try {
        server = await startApiServer({ core: service, rendererDir: process.env.SIGHTLINE_RENDERER_DIR ?? DEFAULT_RENDERER_DIR, port: opts.port });
      } catch (e) {
        await service.close();
        throw e;
      }
      // The page carries the token; the URL does not need it.
      console.log(`Sightline is serving on ${server.url} (library: ${service.library.dbPath}). Ctrl-C stops.`);
      if (opts.open && !(await openInBrowser(server.url))) console.log(`Could not start a browser; open ${server.url} yourself.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      console.log('Stopping…');
      await server.close();
      await service.close();
    });
}
