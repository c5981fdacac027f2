import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactError, ConfigError, type StageManifest } from '@circuit-tuning/contracts';
import { readManifest } from '@circuit-tuning/runtime';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { appVersions, backendChoice, cancelOnSignals, EXIT_CANCELLED, EXIT_NOT_REPRODUCED, positiveInt, startPipelineBackend, userPath } from '../cli-support';
import { type BackendChoice, builtinRegistry, compareRuns, createDisplay, formatComparison, isResolvedPipeline, planFromResolved, prepareVerifyDir, RESOLVED_FILE, runPipeline, stepDir } from '@circuit-tuning/pipeline';

/** Reruns a finished run and compares output hashes; see `circuit-tuning verify --help`. */
export const verifyCommand: Command = {
  ...COMMAND_INFO['verify'],
  async run({ values, positionals }) {
    const [dir] = positionals;
    if (dir === undefined) throw new ConfigError('verify needs a run directory', { hint: 'usage: circuit-tuning verify RUN_DIR' });
    const runDir = userPath(dir);
    const resolvedPath = join(runDir, RESOLVED_FILE);
    if (!existsSync(resolvedPath)) throw new ConfigError(`${runDir} is not a pipeline run (no ${RESOLVED_FILE})`);
    let resolved: unknown;
    try {
      resolved = JSON.parse(await readFile(resolvedPath, 'utf8'));
    } catch (error) {
      throw new ArtifactError(resolvedPath, `cannot be read as JSON (${(error as Error).message})`, { cause: error });
    }
    if (!isResolvedPipeline(resolved)) throw new ConfigError(`${resolvedPath} is not a resolved pipeline`);
    const manifests: StageManifest[] = [];
    for (const step of resolved.steps) {
      const manifest = await readManifest(stepDir(runDir, step.id));
      if (manifest?.status !== 'succeeded') throw new ConfigError(`step '${step.id}' of ${runDir} has not finished`, { hint: 'finish the run first: circuit-tuning run ... --run-dir ' + dir });
      manifests.push(manifest);
    }
    const workDir = userPath((values.work as string | undefined) ?? `${dir.replace(/\/+$/, '')}.verify`);
    await prepareVerifyDir(runDir, workDir);
    // The backend that actually ran (an 'auto' pipeline records what auto chose).
    const ran = manifests.find((m) => m.backend !== undefined)?.backend?.name;
    const backend: BackendChoice = backendChoice(values.backend) ?? (ran as BackendChoice | undefined) ?? resolved.backend;
    const info = await startPipelineBackend(backend, positiveInt(values.threads, '--threads') ?? resolved.threads);
    const plan = await planFromResolved(resolved, builtinRegistry());
    const cancel = cancelOnSignals();
    let status: string;
    try {
      const result = await runPipeline(plan, {
        runDir: workDir,
        force: true,
        signal: cancel.signal,
        backend: info,
        versions: appVersions(info),
        display: createDisplay({ quiet: values.quiet === true }),
      });
      status = result.status;
      if (result.status !== 'succeeded') {
        if (result.status === 'aborted') return EXIT_CANCELLED;
        throw result.error;
      }
    } finally {
      cancel.dispose();
    }
    const rows = await compareRuns(
      runDir,
      workDir,
      resolved.steps.map((s) => s.id),
    );
    const reproduced = rows.every((r) => r.verdict === 'same' || r.verdict === 'timing-only');
    if (values.json) process.stdout.write(`${JSON.stringify({ runDir, rerunDir: workDir, status, reproduced, outputs: rows }, null, 2)}\n`);
    else process.stdout.write(formatComparison(rows));
    const same = rows.filter((r) => r.verdict === 'same').length;
    process.stderr.write(
      `${reproduced ? 'reproduced' : 'NOT reproduced'}: ${same} of ${rows.length} outputs byte-identical${rows.length - same > 0 ? `, ${rows.filter((r) => r.verdict === 'timing-only').length} differ only in timing columns` : ''} (backend ${info.name})\n`,
    );
    if (reproduced && values.keep !== true) await rm(workDir, { recursive: true, force: true });
    else process.stderr.write(`the rerun is in ${workDir}\n`);
    return reproduced ? 0 : EXIT_NOT_REPRODUCED;
  },
};
