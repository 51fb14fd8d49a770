/**
 * One connection to a server, as frames: length-prefixed frames in, and frames out encoded
 * straight into one buffer that is written once per turn of the event loop, however many requests
 * were issued in it.
 */
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { FrameDecoder } from '../protocol/frame-decoder.ts';
import { JuteWriter } from '../protocol/jute.ts';
import { writeRequestHeader } from '../protocol/requests.ts';
import type { SocketFactory } from './types.ts';

export interface FrameHandlers {
  connected(): void;
  frame(body: Buffer): void;
  /** Called once, when the socket is gone for any reason (error is undefined on a clean end). */
  closed(error?: Error): void;
}

/**
 * Every socket reads into this one buffer: a read is handled synchronously (whatever a result
 * keeps is copied, and a partial frame is copied out before the callback returns), so no socket
 * needs its own.
 */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

export interface FrameSocketOptions {
  maxFrameBytes: number;
  /** Default: TCP, read into the shared buffer. */
  socketFactory?: SocketFactory;
  now: () => number;
}

export class FrameSocket {
  /** Encode outgoing frames here (beginFrame / endFrame), then call scheduleFlush(). It grows as needed. */
  readonly out = new JuteWriter(1024);
  private readonly decoder: FrameDecoder;
  private readonly socket: Duplex;
  private readonly now: () => number;
  private flushScheduled = false;
  private done = false;
  lastSendAt: number;
  lastReceiveAt: number;

  constructor(host: string, port: number, options: FrameSocketOptions, private readonly handlers: FrameHandlers) {
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    this.now = options.now;
    this.lastSendAt = this.lastReceiveAt = this.now();
    if (options.socketFactory === undefined) {
      // Reads land in the shared buffer, without a stream chunk or a new buffer per read.
      this.socket = netConnect({
        host, port, noDelay: true,
        onread: { buffer: readBuffer, callback: (n: number) => {
          this.onData(readBuffer.subarray(0, n));
          return true;
        } },
      });
    } else {
      this.socket = options.socketFactory(host, port);
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    }
    // Not from here: the owner is still constructing this object and may not hold it yet.
    if ((this.socket as { connecting?: boolean }).connecting === true) this.socket.once('connect', () => this.onConnect());
    else queueMicrotask(() => this.onConnect());
    this.socket.on('error', (err) => this.finish(err));
    this.socket.on('end', () => this.finish());
    this.socket.on('close', () => this.finish());
  }

  get closed(): boolean {
    return this.done;
  }

  /** Encodes one request frame (the RequestHeader, then the body) into `out`; flushing is the caller's. */
  writeRequest(xid: number, op: number, encodeBody?: (w: JuteWriter) => void): void {
    const mark = this.out.beginFrame();
    writeRequestHeader(this.out, xid, op);
    encodeBody?.(this.out);
    this.out.endFrame(mark);
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.out.offset === 0 || this.done) {
      this.out.reset();
      return;
    }
    this.socket.write(Buffer.from(this.out.bytes()));
    this.out.reset();
    this.lastSendAt = this.now();
  };

  /** Closes the socket; `closed` is called (once) with the reason. */
  destroy(error?: Error): void {
    if (this.done) return;
    this.socket.destroy();
    this.finish(error);
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.lastReceiveAt = this.now();
    this.decoder.push(chunk);
    try {
      for (let body = this.decoder.next(); body !== null && !this.done; body = this.decoder.next()) {
        this.handlers.frame(body);
      }
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
    this.decoder.detach();
  }

  private onConnect(): void {
    if (!this.done && !this.socket.destroyed) this.handlers.connected();
  }

  private finish(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    this.handlers.closed(error);
  }
}
