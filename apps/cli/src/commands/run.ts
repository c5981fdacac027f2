import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CircuitTuningError, exitCodeFor } from '@circuit-tuning/contracts';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { fixturesDir } from '../fixtures';
import { appVersions, backendChoice, cancelOnSignals, csvOption, EXIT_CANCELLED, listOption, positiveInt, startPipelineBackend, userPath } from '../cli-support';
import { builtinRegistry, createDisplay, describeQueue, executorChoice, loadPipeline, parseOverride, type PipelineRunResult, queueExecutor, runJobsId, runPipeline } from '@circuit-tuning/pipeline';
import { queueFlags, refuseQueueFlags } from '../queue-options';

/** What `circuit-tuning run` runs without a file (and `pnpm start`). */
export const DEFAULT_PIPELINE = join(fixturesDir, 'pipelines', 'default.yaml');

/** Runs a whole pipeline file; see `circuit-tuning run --help`. */
export const runCommand: Command = {
  ...COMMAND_INFO['run'],
  async run({ values, positionals }) {
    const [file, ...extra] = positionals;
    if (extra.length > 0) throw new CircuitTuningError('config', 'run takes one pipeline file', { hint: `usage: circuit-tuning ${this.usage.split('\n')[0]}` });
    const path = file === undefined ? DEFAULT_PIPELINE : userPath(file);
    const overrides = listOption(values.set).map(parseOverride);
    const seed = positiveInt(values.seed, '--seed');
    if (seed !== undefined) overrides.push({ key: 'seed', path: ['seed'], value: seed });
    const backend = backendChoice(values.backend);
    const plan = await loadPipeline(path, { registry: builtinRegistry(), overrides, ...(backend === undefined ? {} : { backend }) });
    const { pipeline } = plan;
    if (values['dry-run']) {
      process.stdout.write(`${JSON.stringify(pipeline, null, 2)}\n`);
      return 0;
    }
    const executorName = executorChoice(values.executor);
    if (executorName === 'local') refuseQueueFlags(values);
    const queue = executorName === 'queue' ? queueFlags(values) : undefined;
    const threads = positiveInt(values.threads, '--threads') ?? pipeline.threads;
    const info = await startPipelineBackend(pipeline.backend, threads);
    const runDir = userPath((values['run-dir'] as string | undefined) ?? join('runs', pipeline.name));
    const cancel = cancelOnSignals();
    const rerun = csvOption(values.rerun);
    const say = (message: string) => {
      if (values.quiet !== true) process.stderr.write(`${message}\n`);
    };
    // The foreach members go to the workers; the run takes them back through the store (README: "Running a sweep over several machines").
    const executor =
      queue === undefined
        ? undefined
        : await queueExecutor({ ...queue, sweepName: pipeline.name, pipeline: path, set: [], signal: cancel.signal, warn: (message) => process.stderr.write(`warning: ${message}\n`) });
    const remote = executor?.steps({
      owner: runJobsId(pipeline.name, runDir),
      log: say,
      onState: (step, state) => say(`queue: ${step} ${state.state}${state.worker === undefined ? '' : ` on ${state.worker}`}${state.attempt > 1 ? ` (delivery ${state.attempt})` : ''}${state.error === undefined ? '' : `: ${state.error}`}`),
    });
    if (queue !== undefined) say(`run: the members of foreach steps go to the workers of the queue at ${describeQueue(queue.queueUrl)}`);
    let result: PipelineRunResult;
    try {
      result = await runPipeline(plan, {
        runDir,
        force: values.force === true ? true : rerun,
        ...(values.only === undefined ? {} : { only: csvOption(values.only) }),
        signal: cancel.signal,
        backend: info,
        versions: appVersions(info),
        display: createDisplay({ quiet: values.quiet === true, verbose: values.verbose === true }),
        reuseFrom: listOption(values['reuse-from']).map(userPath),
        sourceText: await readFile(path, 'utf8'),
        allowExistingDir: values['allow-existing-dir'] === true,
        ...(remote === undefined ? {} : { dispatch: remote.dispatch, stepStore: remote.stepStore }),
      });
    } finally {
      cancel.dispose();
      await remote?.stepStore.flush();
      await executor?.close();
    }
    const report = result.steps.find((s) => s.outputs.html !== undefined && s.status !== 'failed')?.outputs.html;
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify(
          {
            runDir,
            status: result.status,
            report: report ?? null,
            steps: result.steps.map(({ manifest, ...rest }) => ({ ...rest, summary: manifest?.summary ?? null })),
          },
          null,
          2,
        )}\n`,
      );
    } else if (report !== undefined) {
      const shown = relative(process.env.INIT_CWD ?? process.cwd(), report);
      process.stdout.write(`report: ${shown.startsWith('..') || shown === '' ? report : shown}\n`);
    }
    if (result.status === 'succeeded') return 0;
    if (result.status === 'aborted') return EXIT_CANCELLED;
    const error = result.error;
    if (error instanceof CircuitTuningError) {
      if (!values.json) process.stderr.write(`error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`);
      return exitCodeFor[error.kind];
    }
    process.stderr.write(`internal error: ${(error as Error | undefined)?.stack ?? String(error)}\n`);
    return 1;
  },
};
