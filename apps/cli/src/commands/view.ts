import { existsSync } from 'node:fs';
import { ConfigError } from '@circuit-tuning/contracts';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { positiveInt, userPath } from '../cli-support';
import { startViewer } from '@circuit-tuning/viewer';

/** Serves a page that shows a run directory; see `circuit-tuning view --help`. */
export const viewCommand: Command = {
  ...COMMAND_INFO['view'],
  async run({ values, positionals }) {
    const [dir] = positionals;
    if (dir === undefined) throw new ConfigError('view needs a run directory', { hint: 'usage: circuit-tuning view RUN_DIR [--port N]' });
    const runDir = userPath(dir);
    if (!existsSync(runDir)) throw new ConfigError(`${runDir}: no such run directory`);
    const viewer = await startViewer(runDir, {
      port: positiveInt(values.port, '--port') ?? 0,
      ...(values.host === undefined ? {} : { host: String(values.host) }),
    });
    process.stdout.write(`${viewer.url}\n`);
    process.stderr.write(`viewing ${runDir} at ${viewer.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((resolvePromise) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        viewer.close().then(resolvePromise, resolvePromise);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};
