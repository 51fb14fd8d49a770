// Minimal typings for node-zookeeper-client 1.1.3 (the package ships none): only what the
// real-client tests use.
declare module 'node-zookeeper-client' {
  import { EventEmitter } from 'node:events';

  export interface Stat {
    czxid: Buffer;
    mzxid: Buffer;
    ctime: Buffer;
    mtime: Buffer;
    version: number;
    cversion: number;
    aversion: number;
    ephemeralOwner: Buffer;
    dataLength: number;
    numChildren: number;
    pzxid: Buffer;
  }

  export class Id {
    constructor(scheme: string, id: string);
    scheme: string;
    id: string;
  }

  export class ACL {
    constructor(permission: number, id: Id);
    permission: number;
    id: Id;
    static OPEN_ACL_UNSAFE: ACL[];
    static CREATOR_ALL_ACL: ACL[];
    static READ_ACL_UNSAFE: ACL[];
  }

  export const Permission: { READ: number; WRITE: number; CREATE: number; DELETE: number; ADMIN: number; ALL: number };
  export const CreateMode: { PERSISTENT: number; PERSISTENT_SEQUENTIAL: number; EPHEMERAL: number; EPHEMERAL_SEQUENTIAL: number };

  export class State {
    name: string;
    code: number;
    getName(): string;
    getCode(): number;
    toString(): string;
    static DISCONNECTED: State;
    static SYNC_CONNECTED: State;
    static AUTH_FAILED: State;
    static CONNECTED_READ_ONLY: State;
    static SASL_AUTHENTICATED: State;
    static EXPIRED: State;
  }

  export class Event {
    type: number;
    name: string;
    path: string;
    getType(): number;
    getName(): string;
    getPath(): string;
    toString(): string;
    static NODE_CREATED: number;
    static NODE_DELETED: number;
    static NODE_DATA_CHANGED: number;
    static NODE_CHILDREN_CHANGED: number;
  }

  export class Exception extends Error {
    code: number;
    name: string;
    path?: string;
    getCode(): number;
    getName(): string;
    getPath(): string | undefined;
    toString(): string;
  }

  export interface TransactionResult {
    type: number;
    path?: string;
    stat?: Stat;
    err?: number;
  }

  export class Transaction {
    create(path: string, data?: Buffer | null, acls?: ACL[], mode?: number): Transaction;
    check(path: string, version?: number): Transaction;
    setData(path: string, data: Buffer | null, version?: number): Transaction;
    remove(path: string, version?: number): Transaction;
    commit(callback: (error: Exception | Error | null | undefined, results: TransactionResult[]) => void): void;
  }

  export type Watcher = (event: Event) => void;
  type Cb<T> = (error: Exception | Error | null, result: T) => void;

  export class Client extends EventEmitter {
    connect(): void;
    close(): void;
    getState(): State;
    getSessionId(): Buffer;
    getSessionPassword(): Buffer;
    getSessionTimeout(): number;
    addAuthInfo(scheme: string, auth: Buffer): void;
    create(path: string, data: Buffer | null, acls: ACL[], mode: number, callback: Cb<string>): void;
    remove(path: string, version: number, callback: (error: Exception | Error | null) => void): void;
    setData(path: string, data: Buffer | null, version: number, callback: Cb<Stat>): void;
    getData(path: string, watcher: Watcher | undefined, callback: (error: Exception | Error | null, data: Buffer, stat: Stat) => void): void;
    setACL(path: string, acls: ACL[], version: number, callback: Cb<Stat>): void;
    getACL(path: string, callback: (error: Exception | Error | null, acls: ACL[], stat: Stat) => void): void;
    exists(path: string, watcher: Watcher | undefined, callback: Cb<Stat | null>): void;
    getChildren(path: string, watcher: Watcher | undefined, callback: (error: Exception | Error | null, children: string[], stat: Stat) => void): void;
    mkdirp(path: string, data: Buffer | null, acls: ACL[], mode: number, callback: Cb<string>): void;
    transaction(): Transaction;
  }

  export interface ClientOptions {
    sessionTimeout?: number;
    spinDelay?: number;
    retries?: number;
  }

  export function createClient(connectionString: string, options?: ClientOptions): Client;

  const zookeeper: {
    createClient: typeof createClient;
    ACL: typeof ACL;
    Id: typeof Id;
    Permission: typeof Permission;
    CreateMode: typeof CreateMode;
    State: typeof State;
    Event: typeof Event;
    Exception: typeof Exception;
  };
  export default zookeeper;
}
