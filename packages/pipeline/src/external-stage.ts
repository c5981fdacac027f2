/**
 * A variant implemented by another program (Python, a shell script, anything): the pipeline runs
 * it as a child process that reads and writes the same files as a built-in stage. The runner
 * hands it its inputs and where to write its outputs, then checks what it wrote against the
 * declared ports (table schema metadata and columns, JSON) and records the manifest, exactly as
 * for a built-in stage; a killed or failed command leaves no manifest that a cache would trust.
 *
 * The protocol (version 1):
 *  - `CT_REQUEST` is the path of a JSON file: `{protocol, stage, producer, seed, config, inputs:
 *    {port: path}, outputs: {port: {path, kind, schema?, schemaVersion?, fields?, metadata?}}, stageDir}`;
 *  - for shell scripts also `CT_SEED`, `CT_CONFIG` (JSON), `CT_STAGE_DIR`, `CT_INPUT_<PORT>` and
 *    `CT_OUTPUT_<PORT>` (port names upper-cased, `-` as `_`);
 *  - Arrow outputs are IPC *files* (not streams) with the declared table's fields, and with the
 *    schema metadata given as `outputs[port].metadata` (`ct.schema`, `ct.schema_version`,
 *    `ct.producer`): that is how the next stage knows what the file holds;
 *  - a stdout line that is a JSON object `{"progress": {"label", "completed", "total"?}}` or
 *    `{"log": {"level"?, "message"}}` is shown as progress or a log line; any other line is logged;
 *  - exit status 0 means success. The command is stopped with SIGTERM when the run is cancelled.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, RuntimeError, TABLE_META_PRODUCER, TABLE_META_SCHEMA, TABLE_META_SCHEMA_VERSION, type TableSchema } from '@circuit-tuning/contracts';
import { type AnyStageDefinition, defineStage, type PortSpec, type PortSpecs, type ProgressHandle, sha256File, writeJsonAtomic } from '@circuit-tuning/runtime';
import { z } from 'zod';
import type { ExternalStageSpec, PortShorthand } from './spec';

export const EXTERNAL_PROTOCOL = 1;
export const EXTERNAL_REQUEST_FILE = 'external-request.json';

/** The config an external stage records: the command as written, hashes of the files it names, and the step's settings. */
export const ExternalConfig = z.strictObject({
  command: z.array(z.string()),
  files: z.record(z.string(), z.string()).default({}),
  params: z.record(z.string(), z.unknown()).default({}),
});
export type ExternalConfig = z.output<typeof ExternalConfig>;

/** Turns a port shorthand into a port spec; table names are looked up among the known schemas. */
export function portFromShorthand(port: string, shorthand: PortShorthand, tables: ReadonlyMap<string, TableSchema>): PortSpec {
  const spec = typeof shorthand === 'string' ? shorthandKind(shorthand) : shorthand;
  const base = {
    ...(spec.optional === true ? { optional: true } : {}),
    ...(spec.description === undefined ? {} : { description: spec.description }),
  };
  switch (spec.kind) {
    case 'model-dir':
      return { kind: 'model-dir', ...base };
    case 'json':
      return { kind: 'json', ...base };
    case 'file':
      return { kind: 'file', description: spec.description ?? `port ${port}`, ...base, ...(spec.fileName === undefined ? {} : { fileName: spec.fileName }) };
    case 'arrow': {
      const schema = spec.schema === undefined ? undefined : tables.get(spec.schema);
      if (schema === undefined) {
        throw new ConfigError(`port '${port}': unknown table schema '${spec.schema ?? '(none)'}'`, { hint: `known tables: ${[...tables.keys()].sort().join(', ')}` });
      }
      return { kind: 'arrow', schema, ...base };
    }
  }
}

function shorthandKind(text: string): { kind: 'arrow' | 'model-dir' | 'json' | 'file'; schema?: string; optional?: boolean; description?: string; fileName?: string } {
  if (text === 'model-dir' || text === 'json' || text === 'file') return { kind: text };
  return { kind: 'arrow', schema: text };
}

/** sha256 of every command argument that names a file (relative to `cwd`): a changed script reruns the step. */
export async function commandFiles(command: readonly string[], cwd: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const arg of command) {
    const path = resolve(cwd, arg);
    if ((arg.includes('/') || arg.includes('.')) && existsSync(path) && statSync(path).isFile()) files[arg] = await sha256File(path);
  }
  return files;
}

/**
 * A stage definition that runs `spec.command`. `cwd` is where the command runs (the pipeline
 * file's directory, so relative paths in the command mean what they say in the file).
 */
export function externalStage(spec: ExternalStageSpec, options: { cwd: string; tables: ReadonlyMap<string, TableSchema> }): AnyStageDefinition {
  const inputs: Record<string, PortSpec> = {};
  for (const [port, shorthand] of Object.entries(spec.inputs)) inputs[port] = portFromShorthand(port, shorthand, options.tables);
  const outputs: Record<string, PortSpec> = {};
  for (const [port, shorthand] of Object.entries(spec.outputs)) outputs[port] = portFromShorthand(port, shorthand, options.tables);
  const env = spec.env;
  return defineStage({
    slot: spec.slot,
    variant: spec.variant,
    version: spec.version,
    description: spec.description,
    config: ExternalConfig,
    inputs: inputs as PortSpecs,
    outputs: outputs as PortSpecs,
    async run(ctx) {
      const ports = Object.keys(outputs);
      const stageDir = dirname(ctx.output(ports[0] as string));
      const outputInfo = Object.fromEntries(
        Object.entries(outputs).map(([port, portSpec]) => [
          port,
          {
            path: ctx.output(port),
            kind: portSpec.kind,
            ...(portSpec.optional === true ? { optional: true } : {}),
            ...(portSpec.kind === 'arrow'
              ? {
                  schema: portSpec.schema.name,
                  schemaVersion: portSpec.schema.version,
                  fields: portSpec.schema.fields.map((f) => ({ name: f.name, type: f.type, nullable: f.nullable })),
                  metadata: { [TABLE_META_SCHEMA]: portSpec.schema.name, [TABLE_META_SCHEMA_VERSION]: String(portSpec.schema.version), [TABLE_META_PRODUCER]: ctx.producer },
                }
              : {}),
          },
        ]),
      );
      const request = {
        protocol: EXTERNAL_PROTOCOL,
        stage: ctx.stage,
        producer: ctx.producer,
        seed: ctx.seed,
        config: ctx.config.params,
        inputs: ctx.inputs,
        outputs: outputInfo,
        stageDir,
      };
      const requestPath = join(stageDir, EXTERNAL_REQUEST_FILE);
      await writeJsonAtomic(requestPath, request);
      const portEnv: Record<string, string> = {};
      for (const [port, path] of Object.entries(ctx.inputs as Record<string, string | undefined>)) if (path !== undefined) portEnv[`CT_INPUT_${envName(port)}`] = path;
      for (const port of ports) portEnv[`CT_OUTPUT_${envName(port)}`] = ctx.output(port);
      const handles = new Map<string, ProgressHandle>();
      const progress = (label: string, total?: number): ProgressHandle => {
        let handle = handles.get(label);
        if (handle === undefined) {
          handle = ctx.progress(label, total);
          handles.set(label, handle);
        }
        return handle;
      };
      const [program, ...args] = ctx.config.command as [string, ...string[]];
      ctx.logger.info(`running ${[program, ...args].join(' ')}`);
      await runChild(program, args, {
        cwd: options.cwd,
        env: {
          ...process.env,
          ...env,
          ...portEnv,
          CT_REQUEST: requestPath,
          CT_SEED: String(ctx.seed),
          CT_CONFIG: JSON.stringify(ctx.config.params),
          CT_STAGE_DIR: stageDir,
        },
        signal: ctx.signal,
        onLine(stream, line) {
          if (stream === 'stdout' && line.startsWith('{')) {
            const message = parseMessage(line);
            if (message?.progress) {
              const p = message.progress;
              progress(p.label ?? 'progress', p.total).update(p.completed ?? 0);
              if (p.total !== undefined && (p.completed ?? 0) >= p.total) progress(p.label ?? 'progress', p.total).done();
              return;
            }
            if (message?.log) {
              const level = message.log.level === 'warn' || message.log.level === 'debug' ? message.log.level : 'info';
              ctx.logger[level](message.log.message ?? '');
              return;
            }
          }
          ctx.logger.info(line, { stream });
        },
      });
      return { summary: { command: program } };
    },
  });
}

interface ChildMessage {
  progress?: { label?: string; completed?: number; total?: number };
  log?: { level?: string; message?: string };
}

function parseMessage(line: string): ChildMessage | undefined {
  try {
    const value = JSON.parse(line) as unknown;
    return value !== null && typeof value === 'object' ? (value as ChildMessage) : undefined;
  } catch {
    return undefined;
  }
}

function envName(port: string): string {
  return port.toUpperCase().replaceAll('-', '_');
}

/** Runs a command to completion; rejects with its exit status and last stderr lines. */
function runChild(
  program: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; signal: AbortSignal; onLine(stream: 'stdout' | 'stderr', line: string): void },
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    options.signal.throwIfAborted();
    const child = spawn(program, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onAbort = () => child.kill('SIGTERM');
    options.signal.addEventListener('abort', onAbort, { once: true });
    for (const stream of ['stdout', 'stderr'] as const) {
      let buffered = '';
      child[stream].setEncoding('utf8');
      child[stream].on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) emit(stream, line);
      });
      child[stream].on('end', () => {
        if (buffered !== '') emit(stream, buffered);
      });
    }
    function emit(stream: 'stdout' | 'stderr', line: string) {
      const text = line.replace(/\r$/, '');
      if (text.trim() === '') return;
      if (stream === 'stderr') {
        tail.push(text);
        if (tail.length > 12) tail.shift();
      }
      options.onLine(stream, text);
    }
    child.on('error', (error: NodeJS.ErrnoException) => {
      options.signal.removeEventListener('abort', onAbort);
      reject(
        new RuntimeError(`external command '${program}' could not start (${error.code ?? error.message})`, {
          hint: error.code === 'ENOENT' ? `is '${program}' installed and on PATH?` : undefined,
          cause: error,
        }),
      );
    });
    child.on('close', (code, signal) => {
      options.signal.removeEventListener('abort', onAbort);
      if (options.signal.aborted) return reject(options.signal.reason);
      if (code === 0) return resolvePromise();
      reject(
        new RuntimeError(`external command '${program}' ${signal === null ? `exited with status ${code}` : `was killed by ${signal}`}`, {
          ...(tail.length === 0 ? {} : { hint: `its last error output:\n  ${tail.join('\n  ')}` }),
        }),
      );
    });
  });
}
