// Runs a utility-process bundle in plain Node: Electron's process.parentPort is stood in for by this
// child's IPC channel (child_process.fork with serialization 'advanced', i.e. structured clone, as
// Electron's MessagePort uses). Usage: fork(harness, [bundle], { serialization: 'advanced' }).
import { EventEmitter } from 'node:events';
import { pathToFileURL } from 'node:url';

const parentPort = new EventEmitter();
parentPort.postMessage = (message) => process.send(message);
// Like Electron's parentPort, hold messages until the bundle listens for them.
const queued = [];
let listening = false;
process.on('message', (data) => (listening ? parentPort.emit('message', { data, ports: [] }) : queued.push(data)));
parentPort.on('newListener', (event) => {
  if (event !== 'message' || listening) return;
  listening = true;
  setImmediate(() => queued.splice(0).forEach((data) => parentPort.emit('message', { data, ports: [] })));
});
process.parentPort = parentPort;
// The IPC channel would keep this process alive after the bundle exits by itself; disconnect on exit.
process.on('exit', () => process.disconnect?.());

await import(pathToFileURL(process.argv[2]).href);
