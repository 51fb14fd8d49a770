/**
 * Curator's connection states, derived from the client's session states. They are what every
 * recipe's contract is written in:
 *
 * - SUSPENDED: the connection dropped. The session may still be alive, but this process cannot
 *   know whether it still holds what it held: a leader must stop leading, a lock holder stop acting.
 * - RECONNECTED: the same session is back; ephemeral nodes survived; recipes check again.
 * - LOST: the session is gone (expired, closed, refused), or the link stayed down longer than the
 *   session timeout, after which the server has certainly expired it (Curator's default policy).
 *
 *   const states = new ConnectionStateTracker(zk);
 *   states.on('change', (state) => { if (state !== 'CONNECTED' && state !== 'RECONNECTED') stopWork(); });
 */
import { EventEmitter } from 'node:events';
import type { State, ZooKeeperClient } from '../client/index.ts';

export type ConnectionState = 'CONNECTED' | 'SUSPENDED' | 'RECONNECTED' | 'LOST' | 'READ_ONLY';

export interface ConnectionStateTrackerOptions {
  /** How long a suspension lasts before it counts as LOST. Default: the negotiated session timeout. */
  lostAfterMs?: number;
}

/** The events of ConnectionStateTracker and their arguments. */
export type ConnectionStateTrackerEvents = {
  change: [state: ConnectionState];
};

export class ConnectionStateTracker extends EventEmitter<ConnectionStateTrackerEvents> {
  private current: ConnectionState;
  private everConnected: boolean;
  private lostTimer: NodeJS.Timeout | undefined;
  private readonly onState = (state: State): void => this.observe(state);

  constructor(
    private readonly client: ZooKeeperClient,
    private readonly options: ConnectionStateTrackerOptions = {},
  ) {
    super();
    this.current = initialState(client.state);
    this.everConnected = this.current === 'CONNECTED' || this.current === 'READ_ONLY';
    client.on('state', this.onState);
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** Whether the session is connected now (CONNECTED, RECONNECTED or READ_ONLY). */
  get isConnected(): boolean {
    return this.current === 'CONNECTED' || this.current === 'RECONNECTED' || this.current === 'READ_ONLY';
  }

  /** Stops following the client. */
  close(): void {
    clearTimeout(this.lostTimer);
    this.client.off('state', this.onState);
  }

  private observe(state: State): void {
    switch (state) {
      case 'SyncConnected':
        clearTimeout(this.lostTimer);
        // After a LOST by timeout, the same session may still come back: that is a reconnection too.
        this.move(this.everConnected ? (this.current === 'CONNECTED' ? 'CONNECTED' : 'RECONNECTED') : 'CONNECTED');
        this.everConnected = true;
        break;
      case 'ConnectedReadOnly':
        clearTimeout(this.lostTimer);
        this.everConnected = true;
        this.move('READ_ONLY');
        break;
      case 'Disconnected': {
        this.move('SUSPENDED');
        clearTimeout(this.lostTimer);
        const lostAfterMs = this.options.lostAfterMs ?? this.client.sessionTimeoutMs;
        if (lostAfterMs > 0) {
          this.lostTimer = setTimeout(() => this.move('LOST'), lostAfterMs);
          this.lostTimer.unref();
        }
        break;
      }
      case 'Expired':
      case 'AuthFailed':
      case 'Closed':
        clearTimeout(this.lostTimer);
        this.move('LOST');
        break;
    }
  }

  private move(state: ConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    this.emit('change', state);
  }
}

/**
 * Whether the client's session is over (expired, closed or refused): nothing it held survives, and
 * no request of it can succeed again.
 *
 *   if (sessionEnded(zk)) return; // its ephemeral nodes went with it
 */
export function sessionEnded(client: ZooKeeperClient): boolean {
  return client.state === 'Expired' || client.state === 'Closed' || client.state === 'AuthFailed';
}

function initialState(state: State | 'Connecting'): ConnectionState {
  switch (state) {
    case 'SyncConnected':
      return 'CONNECTED';
    case 'ConnectedReadOnly':
      return 'READ_ONLY';
    case 'Connecting':
    case 'Disconnected':
      return 'SUSPENDED';
    default:
      return 'LOST';
  }
}
