// What the CLI tests load with --import into every `sightline` process they start: any TCP
// connection, DNS lookup or fetch fails loudly and leaves NETWORK_DENIED on stderr. Local sockets
// (tsx talks to its parent over a pipe) are not network and stay allowed.
export const NETWORK_DENIED = 'NETWORK ACCESS ATTEMPTED';

export const GUARD = `
import dns from 'node:dns';
import net from 'node:net';
const deny = (what) => {
  process.stderr.write('${NETWORK_DENIED}: ' + what + '\\n');
  throw new Error('network access is not allowed in this test (' + what + ')');
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const target = Array.isArray(args[0]) ? args[0][0] : args[0];
  // net itself decides the same way: a truthy options.path means a pipe (http sets path: null for TCP).
  const local = typeof target === 'string' || (typeof target === 'object' && target !== null && !!target.path);
  return local ? connect.apply(this, args) : deny('connect ' + JSON.stringify(target));
};
dns.lookup = (host) => deny('dns ' + host);
dns.promises.lookup = async (host) => deny('dns ' + host);
globalThis.fetch = async (input) => deny('fetch ' + String(input));
`;
