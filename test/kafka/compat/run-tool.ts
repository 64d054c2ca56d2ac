// Running a client program (kcat, java) with a bounded time, keeping what it printed.

import { spawn, type ChildProcess } from 'node:child_process';

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningTool {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly done: Promise<ToolResult>;
}

export interface ToolOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** Starts `command`; `done` resolves when it exits, or rejects (and kills it) past the timeout. */
export function startTool(command: string, args: readonly string[], options: ToolOptions = {}): RunningTool {
  const child = spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.on('error', () => {}); // a program that exits before reading all its input
  child.stdin!.end(options.input ?? '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const done = new Promise<ToolResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${command} ${args.join(' ')} ran past ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`),
      );
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  done.catch(() => {}); // reported to whoever awaits it
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

export function runTool(
  command: string,
  args: readonly string[],
  options: ToolOptions = {},
): Promise<ToolResult> {
  return startTool(command, args, options).done;
}
