/**
 * Connections to a server's secure client port (secureClientPort): TLS with the caller's options
 * (ca, cert, key, servername… as tls.connect takes them), the server's certificate checked against
 * the host of the connection string unless checkServerIdentity says otherwise.
 */
import { connect, type ConnectionOptions } from 'node:tls';
import type { SocketFactory } from './types.ts';

export function tlsSocketFactory(options: ConnectionOptions): SocketFactory {
  return (host, port) => {
    const socket = connect({ ...options, host, port });
    socket.setNoDelay(true);
    return socket;
  };
}
