import { CircuitTuningError, exitCodeFor } from '@circuit-tuning/contracts';
import { commandHelp, parseCommandArgs } from './command';
import { COMMAND_INFO } from './commands/catalog';
import { allCommandNames, commandInfos, isCommandName, loadCommand } from './commands/index';

function usage(): string {
  const width = Math.max(...commandInfos.map((c) => c.name.length), 'SLOT:VARIANT'.length);
  return [
    'circuit-tuning: find the circuit a transformer uses for a task, measure its redundancy, tune only it.',
    '',
    'usage: circuit-tuning COMMAND [options]   (circuit-tuning COMMAND --help for its options)',
    '',
    'commands:',
    ...commandInfos.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'SLOT:VARIANT'.padEnd(width)}  every stage is a command of its own: discover:eap --help (stage --list names them)`,
    '',
  ].join('\n');
}

/** Runs one CLI invocation and returns its exit code; errors are printed, never thrown. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  let ran = false;
  try {
    // A catalog command's arguments and help come from its info alone (./commands/catalog.ts):
    // nothing heavy is loaded for them. A stage's own help, and `stage X --help`, need the registry.
    const info = isCommandName(name) ? COMMAND_INFO[name] : undefined;
    const parsed = info === undefined ? undefined : parseCommandArgs(info, rest);
    if (info !== undefined && parsed?.values.help && name !== 'stage') {
      process.stdout.write(commandHelp(info));
      return 0;
    }
    const command = await loadCommand(name);
    if (!command) {
      process.stderr.write(`error: unknown command '${name}'\nvalid commands: ${(await allCommandNames()).join(', ')}\n`);
      return 2;
    }
    const args = parsed ?? parseCommandArgs(command, rest);
    if (args.values.help) {
      process.stdout.write(command.help?.(args.positionals) ?? commandHelp(command));
      return 0;
    }
    ran = true;
    return await command.run(args);
  } catch (error) {
    if (error instanceof CircuitTuningError) {
      process.stderr.write(`error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`);
      return exitCodeFor[error.kind];
    }
    process.stderr.write(`internal error: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  } finally {
    // Threaded wasm keeps Node alive until its workers are stopped.
    if (ran) await (await import('@circuit-tuning/runtime')).shutdownBackend();
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
