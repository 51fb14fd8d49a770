/**
 * The secure client port (secureClientPort): a TLS listener whose connections, once their handshake
 * is done, are served as any other, with the client's certificate (for the x509 scheme) if it sent
 * a trusted one.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { subjectName } from '../auth/x509.ts';
import { peerCertificate, serverTlsOptions, type TlsSettings } from './tls-settings.ts';

/** As Netty's SslHandler: a client that has not finished its handshake by then is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

interface Log {
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
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

export function secureClientListener(settings: TlsSettings, log: Log, accept: (socket: TLSSocket, certificate?: Buffer) => void): Server {
  const server = createServer({ ...serverTlsOptions(settings), handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (socket) => {
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
