import { ConfigError } from '@circuit-tuning/contracts';
import { EXPORT_FORMATS, type ExportFormat, exportSource, exportTable, writeExport } from '@circuit-tuning/pipeline';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { userPath } from '../cli-support';

/** A run's Arrow table as CSV, JSON, JSON lines or Parquet; see `circuit-tuning export --help`. */
export const exportCommand: Command = {
  ...COMMAND_INFO['export'],
  async run({ values, positionals }) {
    const [table, portRef, extra] = positionals;
    if (table === undefined) throw new ConfigError('export needs a table', { hint: 'ct export runs/default discover.edges, or ct export FILE.arrow' });
    if (extra !== undefined) throw new ConfigError(`export: unexpected argument '${extra}'`);
    const format = String(values.format ?? 'csv');
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new ConfigError(`--format ${format} is not one of ${EXPORT_FORMATS.join(', ')}`);
    if (format === 'parquet' && values.out === undefined) throw new ConfigError('--format parquet needs --out FILE (Parquet is binary)');
    const source = await exportSource(userPath(table), portRef);
    const { rows, data } = await exportTable(source, format as ExportFormat);
    if (values.out === undefined) {
      process.stdout.write(data);
      return 0;
    }
    const out = userPath(String(values.out));
    await writeExport(out, data, { force: Boolean(values.force) });
    process.stderr.write(`wrote ${rows} rows of ${source} to ${out} (${format})\n`);
    return 0;
  },
};
