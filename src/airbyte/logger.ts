export type LogLevel = 'FATAL' | 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE';

/** Where human-readable messages go. In the connector they become Airbyte LOG messages. */
export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** A logger that keeps messages in memory: for tests and for code run outside the connector. */
export class MemoryLogger implements Logger {
  readonly lines: { level: LogLevel; message: string }[] = [];
  error(message: string): void {
    this.lines.push({ level: 'ERROR', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'WARN', message });
  }
  info(message: string): void {
    this.lines.push({ level: 'INFO', message });
  }
  debug(message: string): void {
    this.lines.push({ level: 'DEBUG', message });
  }
}
