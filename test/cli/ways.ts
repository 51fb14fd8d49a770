/** The four ways the CLI tests run a command: zkCli.sh and ensemble cli, each against both servers. */
import type { ServerName } from '../support/servers.ts';

export type ClientName = 'zkcli' | 'ensemble-cli';

export interface Way {
  n: 1 | 2 | 3 | 4;
  client: ClientName;
  server: ServerName;
  label: string;
}

export const WAYS: readonly Way[] = [
  { n: 1, client: 'zkcli', server: 'zookeeper', label: 'zkCli.sh -> Apache ZooKeeper' },
  { n: 2, client: 'zkcli', server: 'ensemble', label: 'zkCli.sh -> Ensemble' },
  { n: 3, client: 'ensemble-cli', server: 'zookeeper', label: 'ensemble cli -> Apache ZooKeeper' },
  { n: 4, client: 'ensemble-cli', server: 'ensemble', label: 'ensemble cli -> Ensemble' },
];
