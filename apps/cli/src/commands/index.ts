/**
 * The commands, loaded when one runs: ./catalog.ts says what each is (all `--help` needs), and a
 * command's module, with everything it imports, is loaded only to run it. Every stage is also a
 * command of its own (`discover:eap`), from ./stage.ts.
 */
import type { Command } from '../command';
import { COMMAND_INFO, type CommandName } from './catalog';

const MODULES: Record<CommandName, () => Promise<Command>> = {
  demo: async () => (await import('./demo')).demoCommand,
  inspect: async () => (await import('./inspect')).inspectCommand,
  load: async () => (await import('./load')).loadCommand,
  'train-embedded': async () => (await import('./train-embedded')).trainEmbeddedCommand,
  run: async () => (await import('./run')).runCommand,
  verify: async () => (await import('./verify')).verifyCommand,
  sweep: async () => (await import('./sweep')).sweepCommand,
  worker: async () => (await import('./worker')).workerCommand,
  store: async () => (await import('./store')).storeCommand,
  view: async () => (await import('./view')).viewCommand,
  export: async () => (await import('./export')).exportCommand,
  stage: async () => (await import('./stage')).stageCommand,
};

/** The commands' info, in the order `--help` lists them. */
export const commandInfos = Object.values(COMMAND_INFO);

export const isCommandName = (name: string): name is CommandName => Object.hasOwn(COMMAND_INFO, name);

/** A command by name: one of the catalog's, or a stage's (`slot:variant`); undefined for neither. */
export async function loadCommand(name: string): Promise<Command | undefined> {
  if (isCommandName(name)) return MODULES[name]();
  if (!name.includes(':')) return undefined;
  return (await import('./stage')).stageCommands().find((c) => c.name === name);
}

/** Every command's name, the stages' included (for the error on an unknown one). */
export async function allCommandNames(): Promise<string[]> {
  return [...commandInfos.map((c) => c.name), ...(await import('./stage')).stageCommands().map((c) => c.name)];
}
