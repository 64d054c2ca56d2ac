// pino logs: JSON lines, or pretty lines when the output is a terminal.

import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(level: string, pretty: boolean): Logger {
  if (!pretty) return pino({ level, base: { service: 'weir' } });
  return pino({
    level,
    base: { service: 'weir' },
    transport: {
      target: 'pino-pretty',
      options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' },
    },
  });
}
