/** What the server reports of itself. The ZooKeeper-compatible version lets clients enable 3.8 features. */
export const VERSION = {
  ensemble: '0.1.0',
  zookeeperCompatible: '3.8.0-ensemble-0.1.0',
  builtOn: '2026-11-25 00:00 UTC',
} as const;
