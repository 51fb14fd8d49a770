/** How a cell's outcome is written: short, and free of anything that differs run to run (zxids, sessions, times). */
import { Err, errName, EventType, OpCode } from '../../../src/protocol/constants.ts';
import type { ACL } from '../../../src/protocol/records.ts';
import type { MultiResult, RawClient, Result } from '../../support/raw-client.ts';

const eventName = new Map<number, string>(Object.entries(EventType).map(([k, v]) => [v, k]));

export function code(err: number): string {
  return err === Err.OK ? 'OK' : errName.get(err) ?? String(err);
}

/** `OK` and what came back (when `show` says so), or the error's name. */
export function outcome<T>(r: Result<T>, show?: (value: T) => string): string {
  if (r.err !== Err.OK || show === undefined || r.value === undefined) return code(r.err);
  return `OK ${show(r.value)}`;
}

export function quoted(data: Buffer | null): string {
  return data === null ? 'null' : JSON.stringify(data.toString('utf8'));
}

export function list(names: readonly string[]): string {
  return `[${names.join(',')}]`;
}

/** zkCli's letters for a permission mask (cdrwa), with any bits beyond ALL in hex. */
export function permLetters(perms: number): string {
  const letters = [[4, 'c'], [8, 'd'], [1, 'r'], [2, 'w'], [16, 'a']] as const;
  const text = letters.filter(([bit]) => (perms & bit) !== 0).map(([, l]) => l).join('');
  const extra = perms & ~31;
  return (text || '-') + (extra !== 0 ? `+0x${(extra >>> 0).toString(16)}` : '');
}

export function aclText(acl: readonly ACL[]): string {
  return acl.map((a) => `${a.id.scheme}:${a.id.id}:${permLetters(a.perms)}`).join(' ');
}

/** A multi's answer: its error, then each op's. */
export function multiOutcome(r: Result<MultiResult[]>): string {
  const ops = (r.value ?? []).map((m) => {
    if (m.type === OpCode.error) return code(m.err);
    if (m.type === OpCode.getData) return `OK ${quoted(m.data)}`;
    if (m.type === OpCode.getChildren) return `OK ${list(m.children)}`;
    return 'OK';
  });
  return `${code(r.err)} ${list(ops)}`;
}

/** The watch events `c` received about `node` and below, named relative to it (`.` for the node itself). */
export function eventsAbout(c: RawClient, node: string): string {
  const names = c.events()
    .filter((e) => e.path === node || e.path?.startsWith(`${node}/`))
    .map((e) => `${eventName.get(e.type) ?? e.type}(${e.path === node ? '.' : e.path!.slice(node.length + 1)})`);
  return names.length === 0 ? 'no event' : names.join(' ');
}
