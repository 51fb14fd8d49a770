/**
 * The admin server's commands, as Apache ZooKeeper 3.8's AdminServer names and answers them: each is
 * a JSON object with ZooKeeper's field names, plus `command` and `error`.
 */
import type { AdminHttpOptions, AdminRoute } from './admin-http.ts';
import { sendJson } from './admin-http.ts';

type Fields = Record<string, unknown>;

interface AdminCommand {
  names: readonly string[];
  run(o: AdminHttpOptions): Fields;
}

const COMMANDS: readonly AdminCommand[] = [
  { names: ['ruok'], run: () => ({}) },
];

const byName = new Map<string, AdminCommand>(COMMANDS.flatMap((c) => c.names.map((n) => [n, c] as const)));

/** `GET <commandURL>` lists the commands; `GET <commandURL>/<name>` runs one. */
export function commandRoute(options: AdminHttpOptions): AdminRoute {
  const base = options.config.adminCommandUrl.replace(/\/+$/, '');
  return (req, res, url) => {
    const path = url.pathname.replace(/\/+$/, '');
    if (path !== base && !path.startsWith(base + '/')) return false;
    const name = decodeURIComponent(path.slice(base.length + 1));
    if (name === '') {
      sendJson(res, 200, { commands: COMMANDS.map((c) => c.names[0]) });
      return true;
    }
    const command = byName.get(name);
    if (command === undefined) {
      sendJson(res, 404, { command: name, error: `Unknown command: ${name}` });
      return true;
    }
    sendJson(res, 200, { ...command.run(options), command: command.names[0], error: null });
    return true;
  };
}
