import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@circuit-tuning/contracts';
import type { Command } from '../command';
import { cancelOnSignals, csvOption, EXIT_CANCELLED, listOption, positiveInt, userPath } from '../cli-support';
import { checkSweepDir, expandGrid, type GridAxis, isSweepDocument, parseGridOption, parseSweep, readYamlFile, runTrials, selectMetrics, type SweepSpec, sweepTable, tableMarkdown, varyingMetrics, writeSweepFiles } from '@circuit-tuning/pipeline';

const require = createRequire(import.meta.url);
/** Each trial runs this command line's `run` in a child process. */
const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

/** Runs a grid of pipeline variations; see `circuit-tuning sweep --help`. */
export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'Run a pipeline over a grid of settings (e.g. top-N × seed × variant), each trial in its own run directory, summarised in one table.',
  usage: `sweep SWEEP.yaml [--out DIR] [--concurrency N] [--json]
       sweep PIPELINE.yaml --grid KEY=V1,V2,... [--grid ...] [--set KEY=VALUE]... [--concurrency N] [--metrics PATTERNS] [--out DIR]

  --grid KEY=VALUES   one axis of the grid; KEY as for run --set (seed, discover.variant,
                      discover.config.selection.n); VALUES comma-separated, read as YAML
  --set KEY=VALUE     a setting every trial gets
  --concurrency N     trials run at once, each its own process (default 1; the first trial
                      always runs alone, and the others reuse the steps they share with it)
  --metrics LIST      which step summaries to tabulate, as step.key patterns with *
                      (default: every one; the terminal shows those that vary)
  --reuse-from DIR    also copy matching finished steps from this run directory (or folder of them)
  --out DIR           the sweep directory (default runs/<name>-sweep): one run directory per
                      trial, and sweep.md, sweep.tsv, sweep.json
  --json              print the results as JSON on stdout

  A sweep file has 'pipeline' (its path), 'grid' (KEY: [values]), and optionally 'set',
  'concurrency' and 'metrics'.`,
  options: {
    grid: { type: 'string', multiple: true },
    set: { type: 'string', multiple: true },
    concurrency: { type: 'string' },
    metrics: { type: 'string', multiple: true },
    out: { type: 'string' },
    'reuse-from': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }) {
    const [file] = positionals;
    if (file === undefined) throw new ConfigError('sweep needs a sweep file or a pipeline file with --grid', { hint: 'usage: circuit-tuning sweep PIPELINE.yaml --grid seed=1,2' });
    const path = userPath(file);
    const source = await readYamlFile(path);
    let spec: SweepSpec;
    if (isSweepDocument(source.value)) {
      spec = parseSweep(source, (p) => resolve(dirname(path), p));
    } else {
      spec = { pipeline: path, grid: [], set: [], concurrency: 1, metrics: [] };
    }
    const grid: GridAxis[] = [...spec.grid, ...listOption(values.grid).map(parseGridOption)];
    if (grid.length === 0) throw new ConfigError('a sweep needs at least one --grid axis (or a grid in the sweep file)');
    const name = file.split('/').pop()?.replace(/\.ya?ml$/i, '') ?? 'sweep';
    const sweepDir = userPath((values.out as string | undefined) ?? join('runs', `${name}-sweep`));
    const concurrency = positiveInt(values.concurrency, '--concurrency') ?? spec.concurrency;
    await checkSweepDir(sweepDir);
    const trials = expandGrid(grid, sweepDir);
    process.stderr.write(`sweep: ${trials.length} trials of ${spec.pipeline}, ${Math.max(1, concurrency)} at a time, in ${sweepDir}\n`);
    const cancel = cancelOnSignals();
    const passThrough = [
      ...(values.backend === undefined ? [] : ['--backend', String(values.backend)]),
      ...(values.threads === undefined ? [] : ['--threads', String(values.threads)]),
      ...listOption(values['reuse-from']).flatMap((d) => ['--reuse-from', userPath(d)]),
    ];
    let results: Awaited<ReturnType<typeof runTrials>>;
    try {
      results = await runTrials(trials, {
        pipeline: spec.pipeline,
        set: [...spec.set, ...listOption(values.set)],
        sweepDir,
        concurrency: Math.max(1, concurrency),
        command: [require.resolve('tsx/cli'), MAIN],
        args: passThrough,
        signal: cancel.signal,
        onStart: (trial, i) => process.stderr.write(`[${i + 1}/${trials.length}] ${trial.name} started\n`),
        onEnd: (result, i) =>
          process.stderr.write(`[${i + 1}/${trials.length}] ${result.name} ${result.status} in ${(result.durationMs / 1000).toFixed(1)} s${result.error ? `: ${result.error}` : ''}\n`),
      });
    } finally {
      cancel.dispose();
    }
    const names = [...new Set(results.flatMap((r) => Object.keys(r.metrics)))].sort();
    const metrics = selectMetrics(names, [...spec.metrics, ...csvOption(values.metrics)]);
    await writeSweepFiles(sweepDir, { pipeline: spec.pipeline, grid }, results, metrics);
    if (values.json) process.stdout.write(`${JSON.stringify({ sweepDir, trials: results }, null, 2)}\n`);
    else {
      const shown = results.length > 1 ? varyingMetrics(results, metrics) : metrics;
      process.stdout.write(`${tableMarkdown(sweepTable(results, grid, shown))}\n`);
      process.stderr.write(`full table: ${join(sweepDir, 'sweep.md')} (and sweep.tsv, sweep.json)\n`);
    }
    if (cancel.signal.aborted) return EXIT_CANCELLED;
    return results.every((r) => r.status === 'succeeded') && results.length === trials.length ? 0 : 1;
  },
};
