/**
 * TLS between members (sslQuorum=true, ssl.quorum.* keys): each side presents its certificate and
 * checks the other's against the trust store, and, unless ssl.quorum.hostnameVerification=false,
 * against the address it dialled or was dialled from (ZooKeeper's QuorumX509Util checks both
 * directions). With sslQuorumReloadCertFiles the key and trust stores are read again when their
 * files change, for connections made from then on, as ZooKeeper's X509Util does.
 */
import { unwatchFile, watchFile } from 'node:fs';
import { checkServerIdentity, type ConnectionOptions, type TLSSocket, type TlsOptions } from 'node:tls';
import { checkedServerTlsOptions, clientTlsOptions, peerCertificate, type TlsSettings } from './tls-settings.ts';

/** How often the store files are looked at for a change (sslQuorumReloadCertFiles). */
const RELOAD_POLL_MS = 1000;

interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export class QuorumTls {
  private server: TlsOptions;
  private client: ConnectionOptions;
  private readonly watched: string[] = [];
  private readonly reloadListeners: Array<(options: TlsOptions) => void> = [];

  /** Reads the stores now: a store that cannot be read stops the member at startup. */
  constructor(private readonly settings: TlsSettings, private readonly log: Log, reloadOnChange = false) {
    this.server = checkedServerTlsOptions(settings);
    this.client = clientTlsOptions(settings);
    if (reloadOnChange) {
      for (const file of [settings.keyStore?.location, settings.trustStore?.location]) {
        if (file === undefined) continue;
        this.watched.push(file);
        watchFile(file, { interval: RELOAD_POLL_MS, persistent: false }, (now, before) => {
          if (now.mtimeMs !== before.mtimeMs || now.size !== before.size) this.reload(file);
        });
      }
    }
  }

  /** The listener's options; `onReload` gets the new ones when the stores change. */
  serverOptions(): TlsOptions {
    return this.server;
  }

  onReload(listener: (options: TlsOptions) => void): void {
    this.reloadListeners.push(listener);
  }

  /** Options to dial the member at host:port. */
  connectOptions(host: string, port: number): ConnectionOptions {
    return { ...this.client, host, port };
  }

  /**
   * Why a member that dialled in is refused, or null: a certificate it sent must be trusted and
   * name the address it dialled from (unless hostnameVerification is off).
   */
  refusal(socket: TLSSocket): string | null {
    const cert = peerCertificate(socket);
    if (cert === 'refuse') return `its certificate is not trusted (${String(socket.authorizationError)})`;
    // None sent: allowed by ssl.quorum.clientAuth (need was enforced by the handshake).
    if (cert === null || !this.settings.hostnameVerification) return null;
    const address = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const err = checkServerIdentity(address, socket.getPeerCertificate());
    return err === undefined ? null : `its certificate does not name ${address}: ${err.message}`;
  }

  close(): void {
    for (const file of this.watched) unwatchFile(file);
  }

  private reload(file: string): void {
    try {
      // A wrong password, or a key that is not the certificate's, shows here, before anything is replaced.
      const server = checkedServerTlsOptions(this.settings);
      const client = clientTlsOptions(this.settings);
      this.server = server;
      this.client = client;
      this.log.info({ file }, 'quorum TLS stores reloaded');
      for (const listener of this.reloadListeners) listener(server);
    } catch (err) {
      // A store caught half-written, or broken: keep the ones in use.
      this.log.warn({ file, err: (err as Error).message }, 'quorum TLS stores changed but cannot be read: the previous ones stay in use');
    }
  }
}
