/**
 * The floor a Node.js server cannot go below on this machine: a server with no logic at all. It
 * speaks just enough of the protocol for the load processes of `npm run bench:floor` (a session
 * for every handshake, a fixed 100-byte getData reply, a fixed setData Stat, closeSession answered
 * and the socket ended, `srvr` for the readiness check) and keeps no state. Replies are written once
 * per read, as Ensemble writes them. Whatever it costs per operation is what Node and the kernel
 * charge for the I/O; what Ensemble costs beyond it is Ensemble's.
 *
 *   node --import tsx bench/floor-server.ts PORT
 */
import { createServer, type Socket } from 'node:net';

const OP_GET_DATA = 4;
const OP_SET_DATA = 5;
const OP_CLOSE_SESSION = -11;
const STAT_BYTES = 68;
const DATA = Buffer.alloc(100, 0x61);
const SRVR = 0x73727672; // "srvr"

let nextSessionId = BigInt(Date.now()) << 20n;

function connectResponse(): Buffer {
  const frame = Buffer.alloc(4 + 4 + 4 + 8 + 4 + 16 + 1);
  frame.writeInt32BE(frame.length - 4, 0);
  frame.writeInt32BE(30_000, 8); // protocolVersion 0, then the timeout
  frame.writeBigInt64BE(nextSessionId++, 12);
  frame.writeInt32BE(16, 20); // passwd: 16 zero bytes, then readOnly false
  return frame;
}

/** The reply to one request, or null for a request type the floor does not answer. */
function replyBody(type: number): Buffer | null {
  if (type === OP_GET_DATA) return Buffer.concat([int32(DATA.length), DATA, Buffer.alloc(STAT_BYTES)]);
  if (type === OP_SET_DATA) return Buffer.alloc(STAT_BYTES);
  if (type === OP_CLOSE_SESSION) return Buffer.alloc(0);
  return null;
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

const BODIES = new Map([OP_GET_DATA, OP_SET_DATA, OP_CLOSE_SESSION].map((t) => [t, replyBody(t)!]));

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  let handshaken = false;
  let pending: Buffer | null = null;
  socket.on('data', (chunk: Buffer) => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
    if (!handshaken && buf.length >= 4 && buf.readInt32BE(0) === SRVR) {
      socket.end('Zookeeper version: none (a server with no logic)\nMode: standalone\n');
      return;
    }
    const out: Buffer[] = [];
    let end = false;
    let o = 0;
    while (buf.length - o >= 4 && buf.length - o >= 4 + buf.readInt32BE(o)) {
      const len = buf.readInt32BE(o);
      if (!handshaken) {
        handshaken = true;
        out.push(connectResponse());
      } else {
        const xid = buf.readInt32BE(o + 4);
        const type = buf.readInt32BE(o + 8);
        const body = BODIES.get(type);
        if (body === undefined) return void socket.destroy();
        const header = Buffer.alloc(20);
        header.writeInt32BE(16 + body.length, 0);
        header.writeInt32BE(xid, 4); // zxid 0, err 0
        out.push(header, body);
        end ||= type === OP_CLOSE_SESSION;
      }
      o += 4 + len;
    }
    pending = o === buf.length ? null : Buffer.from(buf.subarray(o));
    if (out.length > 0) socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
    if (end) socket.end();
  });
}

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: node --import tsx bench/floor-server.ts PORT\n');
  process.exit(2);
}
createServer(serve).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
