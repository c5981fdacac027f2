import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '@circuit-tuning/contracts';

/** What a command says of itself and accepts (./commands/catalog.ts holds every one). */
export interface CommandInfo {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
}

/** A CLI command: its info, and what it does. */
export interface Command extends CommandInfo {
  run(args: { values: Record<string, string | boolean | string[] | boolean[] | undefined>; positionals: string[] }): Promise<number>;
  /** A help more specific than the usage, for these arguments (`stage discover:eap --help`); undefined for the usage. */
  help?(positionals: string[]): string | undefined;
}

/** Options every command takes. */
export const commonOptions = {
  help: { type: 'boolean', short: 'h' },
  backend: { type: 'string' },
  threads: { type: 'string' },
} as const;

/** Exit status of a run that was cancelled (the typed errors have theirs: contracts' exitCodeFor). */
export const EXIT_CANCELLED = 130;
/** `verify` found outputs that differ. */
export const EXIT_NOT_REPRODUCED = 7;

export function parseCommandArgs(command: CommandInfo, argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { ...commonOptions, ...command.options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ConfigError(`${command.name}: ${(error as Error).message}`, { hint: `usage: ${command.usage}` });
  }
}

export function commandHelp(command: CommandInfo): string {
  return `${command.summary}\n\nusage: circuit-tuning ${command.usage}\n\ncommon options:\n  --backend NAME   auto (default), native, wasm, cpu, tensorflow, tensorflow-gpu, webgpu (or CT_BACKEND)\n  --threads N      native or wasm threads (or CT_WASM_THREADS; default 2)\n  -h, --help       this help\n`;
}
