/**
 * The server's logger: pino, human-readable on a terminal (pino-pretty, one line per record) and
 * JSON lines otherwise, on stdout. Both write synchronously, in this process (no worker thread),
 * so the last lines before an exit are not lost.
 *
 * Level: the option, else ENSEMBLE_LOG_LEVEL, else the caller's default. Format: the option, else
 * ENSEMBLE_LOG_FORMAT, else pretty when stdout is a terminal and JSON when it is not.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  level?: string;
  format?: string;
  /** When neither the option nor ENSEMBLE_LOG_LEVEL gives one. */
  defaultLevel?: LogLevel;
}

function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  const v = value.toLowerCase();
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${what} must be one of ${allowed.join(', ')}, got "${value}"`);
  return v as T;
}

export function logLevel(options: LoggerOptions = {}): LogLevel {
  const fromEnv = process.env.ENSEMBLE_LOG_LEVEL || undefined;
  if (options.level !== undefined) return oneOf('--log-level', options.level, LOG_LEVELS);
  if (fromEnv !== undefined) return oneOf('ENSEMBLE_LOG_LEVEL', fromEnv, LOG_LEVELS);
  return options.defaultLevel ?? 'info';
}

export function logFormat(options: LoggerOptions = {}): LogFormat {
  const fromEnv = process.env.ENSEMBLE_LOG_FORMAT || undefined;
  if (options.format !== undefined) return oneOf('--log-format', options.format, LOG_FORMATS);
  if (fromEnv !== undefined) return oneOf('ENSEMBLE_LOG_FORMAT', fromEnv, LOG_FORMATS);
  return process.stdout.isTTY ? 'pretty' : 'json';
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = logLevel(options);
  const settings = { name: 'ensemble', level };
  if (logFormat(options) === 'json') return pino(settings, pino.destination({ dest: 1, sync: true }));
  return pino(settings, pretty({
    destination: 1,
    sync: true,
    colorize: process.stdout.isTTY === true,
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,name',
  }));
}
