// Electron's main process: one window showing the renderer, the core in a utility process, and the
// fences between them. The page is sandboxed and context-isolated, sees only the preload's bridge,
// cannot navigate or open windows, and gets no permissions; every call it makes is checked for
// its sender and validated against app/api's contract before the core sees it.
import { createRequire } from 'node:module';
import path from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, protocol, session, shell, utilityProcess, type WebContents } from 'electron';
import { IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type ApiEvent } from '../app/api/contract.js';
import { APP_INDEX_URL, APP_ORIGIN, APP_SCHEME, APP_SCHEME_PRIVILEGES, CONTENT_SECURITY_POLICY, serveRendererFile } from './appProtocol.js';
import { BUILTIN_MODELS_ENV, CORE_BUNDLE, PACKAGED_MODELS_DIR, PRELOAD_BUNDLE } from './bundleLayout.js';
import { CoreSupervisor, type CoreChild } from './coreSupervisor.js';
import { ELECTRON_NATIVE_DIR, SQLITE_BINDING_ENV, findElectronSqliteBinding } from './electronNativeBinding.js';
import { PICK_FOLDER_CHANNEL } from './ipcChannels.js';
import { createApiCallHandler, createPickFolderHandler, forwardingHandlers, type TrustedWindow } from './ipcHandlers.js';
import { MEDIA_SCHEME, registerMediaProtocol } from './mediaProtocol.js';

// This file runs as the CommonJS bundle dist/main/main.cjs (inside app.asar once packaged), so
// __dirname is dist/main and the other bundles, the renderer and the native builds sit around it.
const bundleDir = __dirname;
const distDir = path.dirname(bundleDir);
const rendererDir = path.join(distDir, 'renderer');
const nativeDir = path.join(distDir, ELECTRON_NATIVE_DIR);

function log(message: string, error?: unknown): void {
  console.error(`[sightline] ${message}`, error ?? '');
}

// Before `ready`, and in one call: Electron accepts registerSchemesAsPrivileged only once.
protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES, MEDIA_SCHEME]);

let mainWindow: BrowserWindow | null = null;
let trustedWindow: TrustedWindow | null = null;

const core = new CoreSupervisor({
  fork: forkCore,
  // The path comes from the core's own database (a file of a duplicate the user chose to trash).
  moveToTrash: (file) => shell.trashItem(file),
  onEvent: (event: ApiEvent) => {
    if (mainWindow && !mainWindow.isDestroyed()) mainWindow.webContents.send(IPC_EVENT_CHANNEL, event);
  },
  log,
});

/** The core's environment: set by start() once it has found Electron's SQLite addon. */
let coreEnv: NodeJS.ProcessEnv = process.env;

function forkCore(): CoreChild {
  const child = utilityProcess.fork(path.join(bundleDir, CORE_BUNDLE), [], { serviceName: 'Sightline core', env: coreEnv, stdio: 'inherit' });
  return {
    postMessage: (message) => child.postMessage(message),
    onMessage: (listener) => child.on('message', listener),
    onExit: (listener) => child.on('exit', listener),
    kill: () => child.kill(),
  };
}

/** Applied to every webContents Electron creates, so a fence holds even for one we did not expect. */
function fence(contents: WebContents): void {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  // loadURL does not raise these; only the page (a link, location.href, a form) does.
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-frame-navigate', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1360,
    height: 880,
    minWidth: 800,
    minHeight: 560,
    title: 'Sightline',
    show: false,
    webPreferences: {
      preload: path.join(bundleDir, PRELOAD_BUNDLE),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      webviewTag: false,
    },
  });
  mainWindow = win;
  trustedWindow = { webContentsId: win.webContents.id, origin: APP_ORIGIN };
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    if (mainWindow === win) {
      mainWindow = null;
      trustedWindow = null;
    }
  });
  win.loadURL(APP_INDEX_URL).catch((e: unknown) => log(`could not load ${APP_INDEX_URL}`, e));
}

async function pickFolder(): Promise<string | null> {
  const options: Electron.OpenDialogOptions = { title: 'Add a folder to Sightline', properties: ['openDirectory'] };
  const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
  return result.canceled ? null : (result.filePaths[0] ?? null);
}

function sqliteBindingEnv(): NodeJS.ProcessEnv | null {
  const betterSqlite3 = (createRequire(__filename)('better-sqlite3/package.json') as { version: string }).version;
  const found = findElectronSqliteBinding(nativeDir, { electron: process.versions.electron, platform: process.platform, arch: process.arch, betterSqlite3 });
  if (!found.ok) {
    dialog.showErrorBox('Sightline cannot open its library', found.problem);
    return null;
  }
  const env: NodeJS.ProcessEnv = { ...process.env, [SQLITE_BINDING_ENV]: found.path };
  if (app.isPackaged) env[BUILTIN_MODELS_ENV] = path.join(process.resourcesPath, PACKAGED_MODELS_DIR);
  return env;
}

async function start(): Promise<void> {
  await app.whenReady();
  const env = sqliteBindingEnv();
  if (!env) {
    app.quit();
    return;
  }
  coreEnv = env;

  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  // The app protocol sends the CSP itself; this covers any response that does not come from it.
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  protocol.handle(APP_SCHEME, (request) => serveRendererFile(rendererDir, request));
  registerMediaProtocol(protocol, (kind, photoId) => core.readMedia(kind, photoId), (e) => log('media request failed', e));

  core.start();
  ipcMain.handle(
    IPC_CALL_CHANNEL,
    createApiCallHandler({
      trustedWindow: () => trustedWindow,
      core: forwardingHandlers((method, input) => core.call(method, input)),
      onInternalError: (method, e) => log(`${method} failed`, e),
    }),
  );
  ipcMain.handle(PICK_FOLDER_CHANNEL, createPickFolderHandler({ trustedWindow: () => trustedWindow, showFolderDialog: pickFolder }));

  createWindow();
  app.on('activate', () => {
    if (!mainWindow) createWindow();
  });
}

// One Sightline per user: a second one would index the same library beside the first.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('web-contents-created', (_event, contents) => fence(contents));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  // Quit waits for the core to close the library (watchers, indexing, the WAL checkpoint).
  let coreStopped = false;
  app.on('before-quit', (event) => {
    if (coreStopped) return;
    event.preventDefault();
    void core.stop().finally(() => {
      coreStopped = true;
      app.quit();
    });
  });
  start().catch((e: unknown) => {
    log('Sightline could not start', e);
    dialog.showErrorBox('Sightline could not start', e instanceof Error ? e.message : String(e));
    app.exit(1);
  });
}
