/**
 * The secure client port (secureClientPort): a TLS listener whose connections, once their handshake
 * is done, are served as any other, with the client's certificate (for the x509 scheme) if it sent
 * a trusted one.
 */
import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { subjectName } from '../auth/x509.ts';
import type { Scheduler } from '../env/environment.ts';
import { checkedServerTlsOptions, peerCertificate, serverTlsOptions, tlsSettings, type TlsSettings } from './tls-settings.ts';

/** The settings of a secure port with no ssl.* key at all. */
const NO_SETTINGS = tlsSettings('ssl.', new Map(), 'config');

/** As Netty's SslHandler: a client that has not finished its handshake by then is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

interface Log {
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/**
 * Reads the secure client port's stores and checks that its key matches its certificate, so that a
 * mistake stops the server at startup before it recovers its data (listen() reads them again).
 */
export function checkSecureClientPort(settings: TlsSettings | undefined, needed: boolean): void {
  if (needed) checkedServerTlsOptions(settings ?? NO_SETTINGS);
}

/** A trusted certificate is well formed; this keeps a subject our DER reader cannot follow from becoming a crash. */
function readableSubject(cert: Buffer): boolean {
  try {
    subjectName(cert);
    return true;
  } catch {
    return false;
  }
}

/** The listener of the secure client port; without any ssl.* key it lacks a key store, which throws. */
export function secureClientListener(settings: TlsSettings | undefined, log: Log, accept: (socket: TLSSocket, certificate?: Buffer) => void): Server {
  const server = createServer({ ...serverTlsOptions(settings ?? NO_SETTINGS), handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (socket) => {
    const cert = peerCertificate(socket);
    if (cert === 'refuse') {
      log.info({ client: socket.remoteAddress, err: socket.authorizationError?.toString() }, 'TLS connection refused: its certificate is not trusted');
      socket.destroy();
      return;
    }
    if (cert !== null && !readableSubject(cert)) {
      log.info({ client: socket.remoteAddress }, 'TLS connection refused: its certificate\'s subject cannot be read');
      socket.destroy();
      return;
    }
    accept(socket, cert ?? undefined);
  });
  server.on('tlsClientError', (err, socket) => {
    log.info({ client: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
    socket.destroy();
  });
  return server;
}

/** The first byte of a TLS record that opens a handshake; a ZooKeeper length prefix or four-letter word never starts so. */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * client.portUnification: a connection to the client port whose first byte opens a TLS handshake
 * goes to `secure` (a secureClientListener that does not listen), any other is served plain, as
 * ZooKeeper's DualModeSslHandler tells them apart. One that sends nothing is dropped after the
 * handshake timeout.
 */
export function unifiedClientPort(secure: Server, plain: (socket: Socket) => void, scheduler: Scheduler): (socket: Socket) => void {
  return (socket) => {
    const timer = scheduler.after(HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.once('close', () => timer.cancel());
    socket.once('data', (chunk: Buffer) => {
      timer.cancel();
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        secure.emit('connection', socket);
      } else {
        // Flowing again before the connection listens: its 'data' handler is attached before the next turn.
        socket.resume();
        plain(socket);
      }
    });
  };
}
