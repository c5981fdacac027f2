import type { Command } from '../command';
import { demoCommand } from './demo';
import { exportCommand } from './export';
import { inspectCommand } from './inspect';
import { loadCommand } from './load';
import { runCommand } from './run';
import { stageCommand, stageCommands } from './stage';
import { sweepCommand } from './sweep';
import { verifyCommand } from './verify';
import { viewCommand } from './view';
import { trainEmbeddedCommand } from './train-embedded';
import { workerCommand } from './worker';

/** Every command of the CLI, in the order `--help` lists them. */
export const commands: Command[] = [demoCommand, inspectCommand, loadCommand, trainEmbeddedCommand, runCommand, verifyCommand, sweepCommand, workerCommand, viewCommand, exportCommand, stageCommand, ...stageCommands()];
