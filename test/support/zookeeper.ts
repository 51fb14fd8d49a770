import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import type { RunningServer, ServerOptions } from './servers.ts';

const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
/** SLF4J bindings to try, in order; the first whose jars all exist is used. */
const SLF4J_BINDINGS: readonly (readonly string[])[] = [
  ['/usr/share/java/slf4j-simple.jar'],
  ['/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'],
  ['/usr/share/java/slf4j-nop.jar'],
];
export const JAVA = existsSync('/usr/bin/java') ? '/usr/bin/java' : 'java';
/** How long a JVM may take to answer `srvr`: about a second here, far longer on a busy machine. */
const READY_TIMEOUT_MS = 90_000;
const OUTPUT_LIMIT = 64 * 1024;

/** JVMs still running, killed with SIGKILL if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
/** Kills the child with SIGKILL if the test process exits while it still runs. */
export function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) {
        if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
          try {
            process.kill(c.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** The Debian package's jar and an SLF4J binding: what a ZooKeeper JVM needs on its class path. */
export function zooKeeperClasspath(): string {
  if (!existsSync(ZOOKEEPER_JAR)) {
    throw new Error(`${ZOOKEEPER_JAR} not found: install the Debian package "zookeeper"`);
  }
  const binding = SLF4J_BINDINGS.find((jars) => jars.every((j) => existsSync(j))) ?? [];
  return [ZOOKEEPER_JAR, ...binding].join(':');
}

/** Sends a four-letter word over a fresh connection and returns the whole answer. */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${word}: no answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.end(word));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The `java` arguments of a test ZooKeeper: a small heap, its log in logDir, the options' system properties. */
export function zooKeeperArgs(opts: ServerOptions, logDir: string, mainClass: string, cfgPath: string): string[] {
  const jvmArgs = [
    '-Xmx256m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Xshare:auto',
    '-Djava.net.preferIPv4Stack=true',
    '-Dzookeeper.admin.enableServer=false',
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=info',
    `-Dzookeeper.log.dir=${logDir}`,
  ];
  if (opts.extendedTypesEnabled) jvmArgs.push('-Dzookeeper.extendedTypesEnabled=true');
  // The JAAS file as UTF-8 whatever the locale (Java 17 reads files in the locale's charset).
  if (opts.jaasFile) jvmArgs.push(`-Djava.security.auth.login.config=${opts.jaasFile}`, '-Dfile.encoding=UTF-8');
  if (opts.superDigest) jvmArgs.push(`-Dzookeeper.DigestAuthenticationProvider.superDigest=${opts.superDigest}`);
  if (opts.containerCheckIntervalMs !== undefined) {
    jvmArgs.push(`-Dznode.container.checkIntervalMs=${opts.containerCheckIntervalMs}`);
  }
  // The AdminServer needs the servlet API, and TLS Netty's codec and resolver, which the jar's manifest does not name.
  const tls = opts.zooCfg?.some((l) => /^(secureClientPort|sslQuorum|client\.portUnification)\s*=/.test(l)) === true;
  const classpath = zooKeeperClasspath() + (opts.adminServerPort === undefined ? '' : ':/usr/share/java/servlet-api.jar')
    + (tls ? ':/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar' : '');
  return [...jvmArgs, '-cp', classpath, mainClass, cfgPath];
}

/** Starts a standalone Apache ZooKeeper 3.8 (Debian jars) on a free loopback port. */
export async function startZooKeeper(opts: ServerOptions = {}): Promise<RunningServer> {
  const host = '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'zk-test-'));
  const dataDir = join(dir, 'data');
  await mkdir(dataDir);
  const port = await freePort();
  const tickTime = opts.tickTimeMs ?? 2000;
  const cfg = [
    `tickTime=${tickTime}`,
    `dataDir=${dataDir}`,
    `clientPort=${port}`,
    `clientPortAddress=${host}`,
    'maxClientCnxns=0',
    '4lw.commands.whitelist=*',
    ...(opts.adminServerPort === undefined
      ? ['admin.enableServer=false']
      : ['admin.enableServer=true', `admin.serverAddress=${host}`, `admin.serverPort=${opts.adminServerPort}`]),
    // Tests do not need fsync durability; keeps small writes fast on a busy machine.
    'forceSync=no',
  ];
  if (opts.minSessionTimeoutMs !== undefined) cfg.push(`minSessionTimeout=${opts.minSessionTimeoutMs}`);
  if (opts.maxSessionTimeoutMs !== undefined) cfg.push(`maxSessionTimeout=${opts.maxSessionTimeoutMs}`);
  cfg.push(...opts.zooCfg ?? []);
  const cfgPath = join(dir, 'zoo.cfg');
  await writeFile(cfgPath, cfg.join('\n') + '\n');

  const args = zooKeeperArgs(opts, dir, 'org.apache.zookeeper.server.ZooKeeperServerMain', cfgPath);

  /** One JVM: spawned, and stopped (SIGTERM, then SIGKILL) without touching the data dir. */
  interface Jvm {
    child: ChildProcess;
    output: () => string;
    spawnError: () => Error | undefined;
    kill: () => Promise<void>;
  }
  const spawnJvm = (): Jvm => {
    const child = spawn(JAVA, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    let output = '';
    const collect = (d: Buffer): void => {
      output += d.toString('utf8');
      if (output.length > OUTPUT_LIMIT) output = output.slice(output.length - OUTPUT_LIMIT);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    let killing: Promise<void> | undefined;
    const kill = async (): Promise<void> => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
        const killed = await Promise.race([exited.then(() => true), delay(3000).then(() => false)]);
        if (!killed) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
          await Promise.race([exited, delay(3000)]);
        }
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    return {
      child,
      output: () => output,
      spawnError: () => spawnError,
      kill: () => (killing ??= kill()),
    };
  };

  /** Waits until the JVM answers `srvr`; kills it and throws if it exits or takes too long. */
  const waitReady = async (jvm: Jvm): Promise<void> => {
    const { child } = jvm;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = '';
    for (;;) {
      const spawnError = jvm.spawnError();
      if (spawnError || child.exitCode !== null || child.signalCode !== null) {
        await jvm.kill();
        throw new Error(
          `Apache ZooKeeper exited before becoming ready (code ${child.exitCode}, signal ${child.signalCode}` +
            `${spawnError ? `, ${spawnError.message}` : ''}).\ncommand: ${JAVA} ${args.join(' ')}\n` +
            `--- JVM output ---\n${jvm.output()}`,
        );
      }
      try {
        const answer = await fourLetterWord(host, port, 'srvr', 1000);
        if (/^Mode: /m.test(answer)) return;
        lastError = `srvr answered: ${JSON.stringify(answer)}`;
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (Date.now() > deadline) {
        await jvm.kill();
        throw new Error(
          `Apache ZooKeeper did not become ready on ${host}:${port} within ${READY_TIMEOUT_MS} ms ` +
            `(last: ${lastError}).\ncommand: ${JAVA} ${args.join(' ')}\n--- JVM output ---\n${jvm.output()}`,
        );
      }
      await delay(100);
    }
  };

  let jvm = spawnJvm();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await jvm.kill();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(jvm);
  } catch (err) {
    await stop();
    throw err;
  }

  /** Same port, same data dir: the tree and the sessions (with fresh timeouts) come back from the log. */
  const restart = async (): Promise<void> => {
    if (stopped) throw new Error('restart: the server was stopped');
    await jvm.kill();
    jvm = spawnJvm();
    await waitReady(jvm);
  };

  return { name: 'zookeeper', host, port, connectString: `${host}:${port}`, stop, restart };
}
