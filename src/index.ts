/** The package's main export: the client library. The server is `ensemble server` (or src/server). */
export * from './client/index.ts';
