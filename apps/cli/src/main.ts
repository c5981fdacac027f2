import { CircuitTuningError, exitCodeFor } from '@circuit-tuning/contracts';
import { shutdownBackend } from '@circuit-tuning/runtime';
import { type Command, commandHelp, parseCommandArgs } from './command';
import { commands } from './commands/index';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'circuit-tuning: find the circuit a transformer uses for a task, measure its redundancy, tune only it.',
    '',
    'usage: circuit-tuning COMMAND [options]   (circuit-tuning COMMAND --help for its options)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
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
  const command: Command | undefined = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`error: unknown command '${name}'\nvalid commands: ${commands.map((c) => c.name).join(', ')}\n`);
    return 2;
  }
  try {
    const args = parseCommandArgs(command, rest);
    if (args.values.help) {
      process.stdout.write(command.help?.(args.positionals) ?? commandHelp(command));
      return 0;
    }
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
    await shutdownBackend();
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
