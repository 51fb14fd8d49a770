/** `ensemble/testing`: an in-process server for the tests of applications built on ZooKeeper. */
export { TestingServer, type TestingServerOptions } from './testing-server.ts';
