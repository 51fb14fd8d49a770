/**
 * One session of a client library, behind the small interface the load harnesses drive: requests
 * that report to a completion pair (done, fail) fixed once per session, so that a harness creates
 * no closure per request (`.then(done, fail)` for our promises, one node-style callback for
 * node-zookeeper-client).
 *
 * 'raw-socket' is no library at all (bench/raw-socket.ts): it reads only each reply's error code,
 * so it costs the load process next to nothing per reply; getData, setData and getChildren only.
 */
import { pathToFileURL } from 'node:url';
import zookeeper from 'node-zookeeper-client';
import { RawSession, rawRequest, type RawOp, type RawRequest } from './raw-socket.ts';

export type SessionLib = 'ensemble' | 'node-zookeeper-client' | 'raw-socket';

export type Done = () => void;
export type Fail = (err: unknown) => void;

/** Requests whose completion calls the session's done (success) or fail, exactly once each. */
export interface Requests {
  getData(path: string): void;
  setData(path: string, data: Buffer): void;
  create(path: string, data: Buffer): void;
  delete(path: string): void;
  getChildren(path: string): void;
}

export interface ClientSession {
  requests(done: Done, fail: Fail): Requests;
  close(): Promise<void>;
}

const SESSION_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 15_000;

type OurClientModule = typeof import('../src/index.ts');

/** Our client's module: the one given (compiled, e.g. dist/index.js), else src/ through tsx. */
export async function loadOurClient(clientModule: string | undefined): Promise<OurClientModule> {
  return (clientModule === undefined ? await import('../src/index.ts') : await import(pathToFileURL(clientModule).href)) as OurClientModule;
}

export async function openSession(lib: SessionLib, connectString: string, clientModule: string | undefined): Promise<ClientSession> {
  if (lib === 'ensemble') return openOurSession(connectString, await loadOurClient(clientModule));
  if (lib === 'node-zookeeper-client') return openNodeZookeeperClientSession(connectString);
  return openRawSession(connectString);
}

async function openOurSession(connectString: string, client: OurClientModule): Promise<ClientSession> {
  const zk = await client.connect(connectString, { sessionTimeoutMs: SESSION_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  return {
    requests: (done, fail) => ({
      getData: (path) => void zk.getData(path).then(done, fail),
      setData: (path, data) => void zk.setData(path, data).then(done, fail),
      create: (path, data) => void zk.create(path, data).then(done, fail),
      delete: (path) => void zk.delete(path).then(done, fail),
      getChildren: (path) => void zk.getChildren(path).then(done, fail),
    }),
    close: () => zk.close(),
  };
}

async function openNodeZookeeperClientSession(connectString: string): Promise<ClientSession> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: SESSION_TIMEOUT_MS });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node-zookeeper-client: no session within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  return {
    requests(done, fail) {
      const cb = (err: Error | null): void => {
        if (err) fail(err);
        else done();
      };
      return {
        getData: (path) => client.getData(path, undefined, cb),
        setData: (path, data) => client.setData(path, data, -1, cb),
        create: (path, data) => client.create(path, data, zookeeper.ACL.OPEN_ACL_UNSAFE, zookeeper.CreateMode.PERSISTENT, cb),
        delete: (path) => client.remove(path, -1, cb),
        getChildren: (path) => client.getChildren(path, undefined, cb),
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        client.once('disconnected', () => {
          clearTimeout(timer);
          resolve();
        });
        client.close();
      }),
  };
}

async function openRawSession(connectString: string): Promise<ClientSession> {
  const session = await RawSession.open(connectString, SESSION_TIMEOUT_MS);
  // A frame is encoded once per path and re-sent (only the xid changes): pre-encoded requests are
  // the point of the floor.
  const empty: Buffer = Buffer.alloc(0);
  const cached = (op: RawOp): ((path: string, data: Buffer) => RawRequest) => {
    let path = '';
    let payload = empty;
    let frame: RawRequest | null = null;
    return (p, d) => {
      if (frame === null || p !== path || d !== payload) frame = rawRequest(op, (path = p), (payload = d));
      return frame;
    };
  };
  const getDataFrame = cached('getData');
  const setDataFrame = cached('setData');
  const getChildrenFrame = cached('getChildren');
  const unsupported = (): never => {
    throw new Error('raw-socket: only getData, setData and getChildren');
  };
  return {
    requests(done, fail) {
      session.setReplyHandler((err) => {
        if (err !== 0) fail(new Error(`raw-socket: error code ${err}`));
        else done();
      });
      return {
        getData: (path) => session.send(getDataFrame(path, empty)),
        setData: (path, data) => session.send(setDataFrame(path, data)),
        getChildren: (path) => session.send(getChildrenFrame(path, empty)),
        create: unsupported,
        delete: unsupported,
      };
    },
    close: () => session.close(),
  };
}
