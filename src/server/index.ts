/** Start a standalone Ensemble server. */
import pino from 'pino';
import { resolveConfig, type ServerConfig } from './config.ts';
import { EnsembleServer, type ServerDeps } from './server.ts';

export interface StartedServer {
  host: string;
  port: number;
  server: EnsembleServer;
  close(): Promise<void>;
}

export async function startServer(config: Partial<ServerConfig> = {}, deps: ServerDeps = {}): Promise<StartedServer> {
  const resolved = resolveConfig(config);
  const log = deps.log ?? pino({ name: 'ensemble', level: process.env.ENSEMBLE_LOG_LEVEL ?? 'warn' });
  const server = new EnsembleServer(resolved, { ...deps, log });
  const { host, port } = await server.listen();
  return { host, port, server, close: () => server.close() };
}

export { EnsembleServer } from './server.ts';
export { resolveConfig, parseZooCfg, loadZooCfg, type ServerConfig } from './config.ts';
