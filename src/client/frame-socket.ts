/**
 * One TCP connection to a server, as frames: length-prefixed frames in, and frames out encoded
 * straight into one buffer that is written once per turn of the event loop, however many requests
 * were issued in it.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { FrameDecoder } from '../protocol/frame-decoder.ts';
import { JuteWriter } from '../protocol/jute.ts';

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

export class FrameSocket {
  /** Encode outgoing frames here (beginFrame / endFrame), then call scheduleFlush(). It grows as needed. */
  readonly out = new JuteWriter(1024);
  private readonly decoder: FrameDecoder;
  private readonly socket: Socket;
  private flushScheduled = false;
  private done = false;
  lastSendAt = Date.now();
  lastReceiveAt = Date.now();

  constructor(host: string, port: number, maxFrameBytes: number, private readonly handlers: FrameHandlers) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    // Reads land in the shared buffer, without a stream chunk or a new buffer per read.
    this.socket = netConnect({
      host, port, noDelay: true,
      onread: { buffer: readBuffer, callback: (n: number) => {
        this.onData(readBuffer.subarray(0, n));
        return true;
      } },
    });
    this.socket.on('connect', () => this.handlers.connected());
    this.socket.on('error', (err) => this.finish(err));
    this.socket.on('close', () => this.finish());
  }

  get closed(): boolean {
    return this.done;
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
    this.lastSendAt = Date.now();
  };

  /** Closes the socket; `closed` is called (once) with the reason. */
  destroy(error?: Error): void {
    if (this.done) return;
    this.socket.destroy();
    this.finish(error);
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.lastReceiveAt = Date.now();
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

  private finish(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    this.handlers.closed(error);
  }
}
