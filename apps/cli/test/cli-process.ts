/**
 * The CLI as the tests drive it: one child process (`node --import tsx src/main.ts`), so that a
 * SIGKILL stops the run where it is. `cwd` is where the user stands (INIT_CWD, against which the
 * CLI resolves relative paths); a process still running after `timeoutMs` is killed, so no test
 * waits on it forever.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const cliDir = fileURLToPath(new URL('..', import.meta.url));
const main = join(cliDir, 'src', 'main.ts');

export function startCli(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd: cliDir, env: { ...process.env, INIT_CWD: options.cwd ?? cliDir, CI: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done };
}

export const runCli = (args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> => startCli(args, options).done;
