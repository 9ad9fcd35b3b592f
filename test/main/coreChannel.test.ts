// Both ends of the main ↔ core channel over a real MessageChannel (structured clone, as Electron's
// parentPort does), with a stand-in service; and the supervisor's restart and quit rules.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type ApiEvent } from '../../app/api/contract.js';
import type { OsTrash } from '../../app/library/photoTrash.js';
import { CoreConnection, serveCore, type CoreService } from '../../main/coreChannel.js';
import { CoreSupervisor, type CoreChild } from '../../main/coreSupervisor.js';
import { forwardingHandlers } from '../../main/ipcHandlers.js';

const ports: MessagePort[] = [];
afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

/** A service that answers from a script, and keeps the OS trash the core hands it. */
class StandInService {
  osTrash: OsTrash | null = null;
  closed = false;
  private readonly listeners = new Set<(event: ApiEvent) => void>();
  readonly service: CoreService;

  constructor() {
    const handlers = forwardingHandlers(async (method, input) => {
      if (method === 'getPhoto') throw new ApiError('not_found', `no photo ${(input as { photoId: number }).photoId}`);
      if (method === 'removeFolder') throw new Error('disk on fire');
      if (method === 'decideDuplicates') {
        await this.osTrash!.moveToTrash('/photos/b.jpg');
        return { decisionId: 1, trashed: ['/photos/b.jpg'], trashFailures: [] };
      }
      return { method, input };
    });
    this.service = {
      ...handlers,
      onEvent: (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
      readMedia: async (_kind, photoId) => {
        if (photoId === 13) throw new Error('decoder crashed');
        return photoId === 1 ? { bytes: Buffer.from([1, 2, 3]), contentType: 'image/webp' } : null;
      },
      close: async () => {
        this.closed = true;
      },
    };
  }

  /** What serveCore's `open` gets: hands over the trash, then the service. */
  open = async (osTrash: OsTrash): Promise<CoreService> => {
    this.osTrash = osTrash;
    return this.service;
  };

  emit(event: ApiEvent): void {
    this.listeners.forEach((l) => l(event));
  }
}

function connect(open: (trash: OsTrash) => Promise<CoreService>, moveToTrash: (path: string) => Promise<void> = async () => {}) {
  const { port1: mainPort, port2: corePort } = new MessageChannel();
  ports.push(mainPort, corePort);
  const events: ApiEvent[] = [];
  const opened: (string | null)[] = [];
  const exits: number[] = [];
  const connection = new CoreConnection((m) => mainPort.postMessage(m), { moveToTrash, onEvent: (e) => events.push(e), onOpened: (p) => opened.push(p) });
  mainPort.on('message', (m) => connection.receive(m));
  serveCore({
    post: (m) => corePort.postMessage(m),
    listen: (listener) => corePort.on('message', listener),
    open,
    exit: (code) => exits.push(code),
    log: () => {},
  });
  return { connection, events, opened, exits };
}

describe('the core channel', () => {
  it('carries calls, their errors, media bytes and events between the processes', async () => {
    const standIn = new StandInService();
    const { connection, events, opened } = connect(standIn.open);
    await expect(connection.call('listPhotos', { limit: 5 })).resolves.toEqual({ method: 'listPhotos', input: { offset: 0, limit: 5, sort: 'date', direction: 'desc' } });
    await expect(connection.call('getPhoto', { photoId: 9 })).rejects.toMatchObject({ code: 'not_found', message: 'no photo 9' });
    await expect(connection.call('removeFolder', { folderId: 1 })).rejects.toMatchObject({ code: 'internal', message: 'disk on fire' });
    // The core validates too: a caller that skipped the main process's check gets bad_request.
    await expect(connection.call('getPhoto', { photoId: 'x' } as never)).rejects.toMatchObject({ code: 'bad_request' });

    const media = await connection.readMedia('thumb', 1);
    expect(media?.contentType).toBe('image/webp');
    expect(Array.from(media!.bytes)).toEqual([1, 2, 3]);
    await expect(connection.readMedia('thumb', 2)).resolves.toBeNull();
    await expect(connection.readMedia('image', 13)).rejects.toMatchObject({ message: 'decoder crashed' });

    standIn.emit({ type: 'libraryChanged', reason: 'folders' });
    await vi.waitFor(() => expect(events).toEqual([{ type: 'libraryChanged', reason: 'folders' }]));
    expect(opened).toEqual([null]);
  });

  it('sends the OS trash through the main process and waits for its answer', async () => {
    const standIn = new StandInService();
    const trashed: string[] = [];
    const { connection } = connect(standIn.open, async (path) => {
      trashed.push(path);
    });
    await expect(connection.call('decideDuplicates', { action: 'trash_others', members: [1, 2], keeper: 1 })).resolves.toMatchObject({ trashed: ['/photos/b.jpg'] });
    expect(trashed).toEqual(['/photos/b.jpg']);
  });

  it('reports a trash the main process could not do as the error of moveToTrash', async () => {
    const standIn = new StandInService();
    connect(standIn.open, async () => {
      throw new Error('the trash is on another volume');
    });
    await vi.waitFor(() => expect(standIn.osTrash).not.toBeNull());
    await expect(standIn.osTrash!.moveToTrash('/photos/c.jpg')).rejects.toThrow('the trash is on another volume');
  });

  it('answers every call with why the library did not open', async () => {
    const { connection, opened } = connect(async () => {
      throw new Error('library.db was created by a newer Sightline');
    });
    await expect(connection.call('getStatus', {})).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('newer Sightline') });
    await expect(connection.readMedia('thumb', 1)).resolves.toBeNull();
    expect(opened).toEqual([expect.stringContaining('newer Sightline')]);
  });

  it('closes the service on shutdown, then exits', async () => {
    const standIn = new StandInService();
    const { connection, exits } = connect(standIn.open);
    connection.shutdown();
    await connection.closed;
    expect(standIn.closed).toBe(true);
    await vi.waitFor(() => expect(exits).toEqual([0]));
  });

  it('fails what is in flight, and what follows, once the process is gone', async () => {
    const { connection } = connect(() => new Promise<CoreService>(() => {}));
    const pending = connection.call('getStatus', {});
    const pendingMedia = connection.readMedia('thumb', 1);
    connection.disconnect('the Sightline core stopped');
    await expect(pending).rejects.toMatchObject({ code: 'unavailable', message: 'the Sightline core stopped' });
    await expect(pendingMedia).rejects.toMatchObject({ code: 'unavailable' });
    await expect(connection.call('getStatus', {})).rejects.toMatchObject({ code: 'unavailable' });
    expect(connection.inFlight).toBe(0);
  });
});

/** A core process that answers nothing and exits when told to. */
class FakeChild implements CoreChild {
  posted: unknown[] = [];
  private exitListeners: ((code: number) => void)[] = [];
  killed = false;
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  onMessage(): void {}
  onExit(listener: (code: number) => void): void {
    this.exitListeners.push(listener);
  }
  kill(): void {
    this.killed = true;
    this.exit(137);
  }
  exit(code: number): void {
    this.exitListeners.forEach((l) => l(code));
  }
}

describe('the core supervisor', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function supervisor(options: { maxCrashes?: number } = {}) {
    const children: FakeChild[] = [];
    const logs: string[] = [];
    const s = new CoreSupervisor({
      fork: () => {
        const c = new FakeChild();
        children.push(c);
        return c;
      },
      moveToTrash: async () => {},
      onEvent: () => {},
      log: (m) => logs.push(m),
      restartDelayMs: 10,
      ...options,
    });
    return { s, children, logs };
  }

  it('restarts a core that crashed, failing only what was in flight', async () => {
    vi.useFakeTimers();
    const { s, children } = supervisor();
    s.start();
    const inFlight = s.call('getStatus', {});
    children[0].exit(1);
    await expect(inFlight).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('restarting') });
    await expect(s.call('getStatus', {})).rejects.toMatchObject({ code: 'unavailable' });
    vi.advanceTimersByTime(10);
    expect(children).toHaveLength(2);
    void s.call('getStatus', {}).catch(() => {});
    expect(children[1].posted).toEqual([{ type: 'call', id: 1, method: 'getStatus', input: {} }]);
  });

  it('stops restarting a core that keeps crashing', () => {
    vi.useFakeTimers();
    const { s, children, logs } = supervisor({ maxCrashes: 2 });
    s.start();
    for (let i = 0; i < 3; i++) {
      children[children.length - 1].exit(1);
      vi.advanceTimersByTime(10);
    }
    expect(children).toHaveLength(3);
    expect(logs.at(-1)).toMatch(/keeps stopping/);
  });

  it('asks the core to shut down on quit, and kills one that does not', async () => {
    vi.useFakeTimers();
    const { s, children } = supervisor();
    s.start();
    const stopped = s.stop(1000);
    expect(children[0].posted).toEqual([{ type: 'shutdown' }]);
    vi.advanceTimersByTime(1000);
    await stopped;
    expect(children[0].killed).toBe(true);
    vi.advanceTimersByTime(5000);
    expect(children).toHaveLength(1);
  });

  it('resolves the stop as soon as the core exits by itself', async () => {
    const { s, children } = supervisor();
    s.start();
    const stopped = s.stop(60_000);
    children[0].exit(0);
    await stopped;
    expect(children[0].killed).toBe(false);
    await expect(s.call('getStatus', {})).rejects.toMatchObject({ code: 'unavailable', message: 'Sightline is quitting' });
  });
});
