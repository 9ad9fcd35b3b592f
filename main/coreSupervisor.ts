// Keeps the core's utility process running for the main process: starts it, restarts it after a
// crash (a few times, not forever), and stops it cleanly on quit so SQLite's WAL is checkpointed.
// The process itself comes from an injected `fork`, so tests run this without Electron.
import { ApiError, type ApiEvent, type ApiMethod, type MediaKind } from '../app/api/contract.js';
import type { MediaBytes } from '../app/api/sightlineService.js';
import { CoreConnection, type MainToCore } from './coreChannel.js';

/** A started core process, as Electron's UtilityProcess offers it. */
export interface CoreChild {
  postMessage(message: MainToCore): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number) => void): void;
  kill(): void;
}

export interface CoreSupervisorOptions {
  fork: () => CoreChild;
  moveToTrash: (path: string) => Promise<void>;
  onEvent: (event: ApiEvent) => void;
  log: (message: string, error?: unknown) => void;
  /** Crashes tolerated within `crashWindowMs` before the core stays down (default 3 in 60 s). */
  maxCrashes?: number;
  crashWindowMs?: number;
  restartDelayMs?: number;
  now?: () => number;
}

export class CoreSupervisor {
  private child: CoreChild | null = null;
  private connection: CoreConnection | null = null;
  private downReason = 'the Sightline core has not started yet';
  private readonly crashes: number[] = [];
  private stopping: Promise<void> | null = null;
  private exited: (() => void) | null = null;

  constructor(private readonly options: CoreSupervisorOptions) {}

  start(): void {
    if (this.child || this.stopping) return;
    const child = this.options.fork();
    const connection = new CoreConnection((m) => child.postMessage(m), {
      moveToTrash: this.options.moveToTrash,
      onEvent: this.options.onEvent,
      onOpened: (problem) => {
        if (problem) this.options.log(problem);
      },
    });
    child.onMessage((m) => connection.receive(m));
    child.onExit((code) => this.onExit(child, connection, code));
    this.child = child;
    this.connection = connection;
  }

  call(method: ApiMethod, input: unknown): Promise<unknown> {
    return this.connection ? this.connection.call(method, input) : Promise.reject(new ApiError('unavailable', this.downReason));
  }

  readMedia(kind: MediaKind, photoId: number): Promise<MediaBytes | null> {
    return this.connection ? this.connection.readMedia(kind, photoId) : Promise.reject(new ApiError('unavailable', this.downReason));
  }

  /** Asks the core to close the library and exit; kills it if it has not within `timeoutMs`. */
  stop(timeoutMs = 8000): Promise<void> {
    if (this.stopping) return this.stopping;
    const child = this.child;
    const connection = this.connection;
    if (!child || !connection) return (this.stopping = Promise.resolve());
    this.stopping = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.options.log(`the Sightline core did not stop within ${timeoutMs} ms; killing it`);
        child.kill();
      }, timeoutMs);
      this.exited = () => {
        clearTimeout(timer);
        resolve();
      };
      connection.shutdown();
    });
    return this.stopping;
  }

  private onExit(child: CoreChild, connection: CoreConnection, code: number): void {
    if (this.child !== child) return;
    this.child = null;
    this.connection = null;
    if (this.stopping) {
      this.downReason = 'Sightline is quitting';
      connection.disconnect(this.downReason);
      this.exited?.();
      return;
    }
    const now = (this.options.now ?? Date.now)();
    const window = this.options.crashWindowMs ?? 60_000;
    this.crashes.push(now);
    while (this.crashes.length && this.crashes[0] < now - window) this.crashes.shift();
    const restart = this.crashes.length <= (this.options.maxCrashes ?? 3);
    this.downReason = restart
      ? `the Sightline core stopped unexpectedly (exit code ${code}); it is restarting`
      : `the Sightline core keeps stopping (exit code ${code}); restart Sightline`;
    this.options.log(this.downReason);
    connection.disconnect(this.downReason);
    if (restart) setTimeout(() => this.start(), this.options.restartDelayMs ?? 1000);
  }
}
