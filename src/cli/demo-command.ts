/**
 * `ensemble demo`: runs the cluster example (examples/cluster/demo.ts) in a child node process with
 * the TypeScript loader, passing the arguments through. The example uses only the published API.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function demoCommand(args: string[]): Promise<number> {
  const script = fileURLToPath(new URL('../../examples/cluster/demo.ts', import.meta.url));
  if (!existsSync(script)) throw new Error(`the cluster example is not installed here (${script})`);
  let loader: string;
  try {
    loader = import.meta.resolve('tsx');
  } catch {
    throw new Error('the cluster example needs the dev dependency "tsx": run npm ci');
  }
  const child = spawn(process.execPath, ['--import', loader, script, ...args], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  // Passed on (from a terminal the child hears Ctrl-C itself too; it stops once either way).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}
