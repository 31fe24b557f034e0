// Structured logs of the serve process: one JSON object per line on stderr (pino), so stdout stays
// free for the ready banner / --json result. Every protocol logs through children of this logger.
import pino from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const logLevels: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(level: LogLevel = 'info'): pino.Logger {
  // Asynchronous writes to fd 2 (the event loop serves clients); pending lines are flushed before
  // the process exits because the destination keeps the loop alive until written.
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: false }));
}
