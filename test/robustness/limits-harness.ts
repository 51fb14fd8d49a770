/**
 * Set-up shared by the limits tests: the same zoo.cfg lines given to Apache ZooKeeper 3.8 and to an
 * in-process Ensemble, and what the tests read from either (mntr's counters, connections that stay
 * silent or are refused).
 */
import { existsSync } from 'node:fs';
import { after, before } from 'node:test';
import { parseZooCfg } from '../../src/server/config.ts';
import { fourLetterWord, startZooKeeper } from '../support/zookeeper.ts';
import type { RunningServer } from '../support/servers.ts';
import { RawClient } from './frames.ts';
import { startInProcess, type InProcess } from './harness.ts';

export const ZOOKEEPER_AVAILABLE = existsSync('/usr/share/java/zookeeper.jar') && process.env.ROBUSTNESS_SKIP_ZK !== '1';
export const SKIP_ZOOKEEPER = ZOOKEEPER_AVAILABLE ? false : 'ZooKeeper not installed or ROBUSTNESS_SKIP_ZK=1';

/** A server under test, whichever it is. */
export interface Target {
  readonly name: 'zookeeper' | 'ensemble';
  readonly host: string;
  readonly port: number;
  /** Set for Ensemble: the server object, to look at its connections and counters. */
  readonly inProcess?: InProcess;
}

/** Start `name` with these zoo.cfg lines (Ensemble reads them with its own zoo.cfg parser) for the enclosing suite. */
export function serverWith(name: Target['name'], zooCfg: readonly string[]): () => Target {
  let target: Target | undefined;
  let zookeeper: RunningServer | undefined;
  before(async () => {
    if (name === 'zookeeper') {
      zookeeper = await startZooKeeper({ zooCfg });
      target = { name, host: zookeeper.host, port: zookeeper.port };
    } else {
      const { config, warnings } = parseZooCfg(zooCfg.join('\n'));
      if (warnings.length > 0) throw new Error(`zoo.cfg lines not all acted upon: ${warnings.join('; ')}`);
      const inProcess = await startInProcess(config);
      target = { name, host: '127.0.0.1', port: inProcess.port, inProcess };
    }
  });
  after(async () => {
    await zookeeper?.stop();
    await target?.inProcess?.stop();
  });
  return () => {
    if (target === undefined) throw new Error(`${name} is not running`);
    return target;
  };
}

/** mntr's numeric fields, without their zk_ prefix. */
export async function mntr(t: Target): Promise<Map<string, number>> {
  const text = await fourLetterWord(t.host, t.port, 'mntr');
  const fields = new Map<string, number>();
  for (const line of text.trim().split('\n')) {
    const [key, value] = line.split('\t');
    if (key.startsWith('zk_') && value !== undefined && /^-?\d+(\.\d+)?$/.test(value)) fields.set(key.slice(3), Number(value));
  }
  if (!fields.has('num_alive_connections')) throw new Error(`mntr answered: ${JSON.stringify(text)}`);
  return fields;
}

/** mntr's counter `key`. */
export async function counter(t: Target, key: string): Promise<number> {
  const value = (await mntr(t)).get(key);
  if (value === undefined) throw new Error(`mntr has no zk_${key}`);
  return value;
}

/** `n` connections that send nothing. */
export async function silentConnections(t: Target, n: number): Promise<RawClient[]> {
  const all: RawClient[] = [];
  for (let i = 0; i < n; i++) all.push(await RawClient.connect(t.host, t.port));
  return all;
}

/** Whether a new connection is served: its handshake answered (true), or closed unanswered (false). */
export async function handshakeAnswered(t: Target): Promise<boolean> {
  let c: RawClient;
  try {
    c = await RawClient.connect(t.host, t.port);
  } catch {
    return false; // reset before the connection was up
  }
  try {
    await c.handshake();
    return true;
  } catch {
    return false;
  } finally {
    c.destroy();
  }
}

/** Whether a new connection is served within `ms`, trying again while it is not (a server notices a close when it reads it). */
export async function servedWithin(t: Target, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await handshakeAnswered(t)) return true;
    await sleep(200);
  }
  return false;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
