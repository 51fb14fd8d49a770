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
  // Ctrl-C reaches the child too (same process group); the child decides when to exit.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}
