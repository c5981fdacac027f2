import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@circuit-tuning/contracts';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { queueFlags, refuseQueueFlags } from '../queue-options';
import { cancelOnSignals, csvOption, EXIT_CANCELLED, listOption, positiveInt, userPath } from '../cli-support';
import {
  builtinRegistry,
  checkSweepDir,
  connectQueue,
  describeQueue,
  executorChoice,
  expandGrid,
  type GridAxis,
  isSweepDocument,
  localExecutor,
  openQueue,
  parseGridOption,
  parseSweep,
  queueExecutor,
  queueUrl,
  readYamlFile,
  selectMetrics,
  type SweepSpec,
  sweepTable,
  type TrialExecutor,
  tableMarkdown,
  validateTrials,
  varyingMetrics,
  writeSweepFiles,
} from '@circuit-tuning/pipeline';

const require = createRequire(import.meta.url);
/** Each trial runs this command line's `run` in a child process. */
const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

/** Runs a grid of pipeline variations; see `circuit-tuning sweep --help`. */
export const sweepCommand: Command = {
  ...COMMAND_INFO['sweep'],
  async run({ values, positionals }) {
    if (values.status) return showStatus(queueUrl(values.queue as string | undefined), values.sweep as string | undefined, values.json === true);
    const executorName = executorChoice(values.executor);
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
    const set = [...spec.set, ...listOption(values.set)];
    // Every trial's pipeline resolves before any runs: a bad grid key fails here, in full.
    await validateTrials(spec.pipeline, set, trials, builtinRegistry());
    const cancel = cancelOnSignals();
    let executor: TrialExecutor;
    if (executorName === 'queue') {
      for (const flag of ['backend', 'threads', 'reuse-from', 'concurrency'] as const) {
        if (values[flag] !== undefined) throw new ConfigError(`--${flag} is for the local executor; with --executor queue each \`ct worker\` takes its own`, { hint: 'ct worker --queue URL --concurrency N --backend NAME' });
      }
      executor = await queueExecutor({
        ...queueFlags(values),
        sweepName: name,
        pipeline: spec.pipeline,
        set,
        signal: cancel.signal,
        warn: (message) => process.stderr.write(`warning: ${message}\n`),
      });
    } else {
      refuseQueueFlags(values);
      executor = localExecutor({
        pipeline: spec.pipeline,
        set,
        sweepDir,
        concurrency: Math.max(1, concurrency),
        command: [require.resolve('tsx/cli'), MAIN],
        args: [
          ...(values.backend === undefined ? [] : ['--backend', String(values.backend)]),
          ...(values.threads === undefined ? [] : ['--threads', String(values.threads)]),
          ...listOption(values['reuse-from']).flatMap((d) => ['--reuse-from', userPath(d)]),
        ],
        signal: cancel.signal,
      });
    }
    process.stderr.write(`sweep: ${trials.length} trials of ${spec.pipeline} on ${executor.description}, in ${sweepDir}\n`);
    let results: Awaited<ReturnType<TrialExecutor['run']>>;
    try {
      results = await executor.run(trials, {
        onStart: (trial, i, where) => process.stderr.write(`[${i + 1}/${trials.length}] ${trial.name} started${where === undefined ? '' : ` ${where}`}\n`),
        onEnd: (result, i) =>
          process.stderr.write(
            `[${i + 1}/${trials.length}] ${result.name} ${result.status} in ${(result.durationMs / 1000).toFixed(1)} s${executorName === 'queue' && result.host !== undefined ? ` on ${result.host} (${result.backend ?? '?'})` : ''}${result.error ? `: ${result.error}` : ''}\n`,
          ),
        onRetry: (trial, i, where, error) => process.stderr.write(`[${i + 1}/${trials.length}] ${trial.name} failed on ${where}, queued again: ${error}\n`),
        onProgress: (counts) => process.stderr.write(`sweep: ${Object.entries(counts).map(([state, n]) => `${n} ${state}`).join(', ')}\n`),
      });
    } finally {
      cancel.dispose();
      await executor.close();
    }
    const names = [...new Set(results.flatMap((r) => Object.keys(r.metrics)))].sort();
    const metrics = selectMetrics(names, [...spec.metrics, ...csvOption(values.metrics)]);
    await writeSweepFiles(sweepDir, { pipeline: spec.pipeline, grid }, results, metrics);
    if (values.json) process.stdout.write(`${JSON.stringify({ sweepDir, trials: results }, null, 2)}\n`);
    else {
      const shown = results.length > 1 ? varyingMetrics(results, metrics) : metrics;
      // Where each trial ran is news only when trials run on several machines; the files always say it.
      process.stdout.write(`${tableMarkdown(sweepTable(results, grid, shown, { where: executorName === 'queue' }))}\n`);
      process.stderr.write(`full table: ${join(sweepDir, 'sweep.md')} (and sweep.tsv, sweep.json)\n`);
    }
    if (cancel.signal.aborted) return EXIT_CANCELLED;
    return results.every((r) => r.status === 'succeeded') && results.length === trials.length ? 0 : 1;
  },
};

/** `sweep --status`: the queue's jobs, and each sweep's trials by state. */
async function showStatus(url: string, sweepId: string | undefined, json: boolean): Promise<number> {
  const connection = await connectQueue(url, { name: 'circuit-tuning sweep --status' });
  try {
    const queue = await openQueue(connection);
    const counts = await queue.counts();
    const states = await queue.states(sweepId);
    if (json) {
      process.stdout.write(`${JSON.stringify({ queue: describeQueue(url), jobs: counts, trials: states }, null, 2)}\n`);
      return 0;
    }
    const lines = [`queue ${describeQueue(url)}: ${counts.waiting} job(s) waiting for a worker, ${counts.inProgress} with a worker, ${counts.redelivered} delivered more than once`];
    const bySweep = new Map<string, typeof states>();
    for (const s of states) bySweep.set(s.sweepId, [...(bySweep.get(s.sweepId) ?? []), s]);
    if (sweepId !== undefined && !bySweep.has(sweepId)) lines.push(`no trials of sweep '${sweepId}'`);
    for (const [id, trials] of bySweep) {
      const tally = new Map<string, number>();
      for (const t of trials) tally.set(t.state, (tally.get(t.state) ?? 0) + 1);
      // A run's foreach steps (`ct run --executor queue`) are jobs too, their states marked by content key.
      const kind = trials.some((t) => t.key !== undefined) ? 'run' : 'sweep';
      lines.push('', `${kind} ${id}: ${[...tally].map(([state, n]) => `${n} ${state}`).join(', ')}`);
      for (const t of trials) {
        lines.push(`  ${t.name.padEnd(36)} ${t.state.padEnd(9)} ${t.worker ?? ''}${t.attempt > 1 ? ` delivery ${t.attempt}` : ''}${t.error ? `  ${t.error}` : ''}`);
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await connection.drain();
  }
}
