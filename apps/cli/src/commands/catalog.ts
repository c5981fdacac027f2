/**
 * What every command is called, says of itself and accepts: everything `--help` and the argument
 * parser need, in a module that imports nothing heavy, so that `ct --help` and `ct COMMAND --help`
 * answer without loading TensorFlow.js and the stage packages (apps/cli/bench/startup.bench.ts).
 * Each command module (./demo.ts, ./run.ts, …) adds its `run` to its entry here.
 */
import type { CommandInfo } from '../command';
import { EXIT_CANCELLED, EXIT_NOT_REPRODUCED } from '../command';

export const STAGE_USAGE = '[--in PORT=PATH]... [--config FILE] [--set KEY=VALUE]... [--out DIR] [--allow-existing-dir] [--seed N] [--force] [--json] [--quiet]';
export const STAGE_OPTIONS_HELP = `  --in PORT=PATH    an input (repeat for each); a run-index input also takes a run directory
  --config FILE     the stage's config as YAML or JSON
  --set KEY=VALUE   one config value (dotted keys, YAML values), after --config
  --out DIR         the stage directory (default runs/<slot>-<variant>)
  --allow-existing-dir  use an --out that exists and was not made by a stage: outputs are
                    written beside its files, none of which is overwritten or deleted
  --seed N          the run's seed (default 0)
  --force           run even when a matching succeeded run is in --out
  --json            print the manifest as JSON on stdout`;
/** The queue executor's flags, which `run` and `sweep` both take (../queue-options.ts reads them). */
const QUEUE_OPTIONS = {
  executor: { type: 'string' },
  queue: { type: 'string' },
  store: { type: 'string' },
  timeout: { type: 'string' },
  'ack-wait': { type: 'string' },
  'max-deliver': { type: 'string' },
} as const;

export const STAGE_OPTIONS = {
  in: { type: 'string', multiple: true },
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  out: { type: 'string' },
  'allow-existing-dir': { type: 'boolean' },
  seed: { type: 'string' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  list: { type: 'boolean' },
} as const;

/** The commands, in the order `--help` lists them (every stage is also a command: ./stage.ts). */
export const COMMAND_INFO = {
  demo: {
    name: 'demo',
    summary: 'Load the embedded default model, print a generation and its per-node summary.',
    usage: 'demo [MODEL_DIR] [--prompt TEXT] [--tokens N]',
    options: { prompt: { type: 'string' }, tokens: { type: 'string' } },
  },
  inspect: {
    name: 'inspect',
    summary: 'Print the tokens of a text, the top-k next-token predictions and each node\'s output norm at the last position.',
    usage: 'inspect MODEL_DIR TEXT [--top-k N] [--json]',
    options: { 'top-k': { type: 'string' }, json: { type: 'boolean' } },
  },
  load: {
    name: 'load',
    summary: 'Run the load stage: check a model directory and write its canonical copy, parameter and node tables, and a manifest.',
    usage: 'load MODEL_DIR --out STAGE_DIR [--tokenizer required|optional] [--dtype F32|F16|BF16] [--force] [--allow-existing-dir]',
    options: {
      out: { type: 'string' },
      tokenizer: { type: 'string' },
      dtype: { type: 'string' },
      force: { type: 'boolean' },
      'allow-existing-dir': { type: 'boolean' },
    },
  },
  'train-embedded': {
    name: 'train-embedded',
    summary: 'Train the embedded default model from its recipe (resumable) and write it with its card.',
    usage: 'train-embedded [--recipe FILE] [--run-dir DIR] [--out DIR] [--force]',
    options: { recipe: { type: 'string' }, 'run-dir': { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } },
  },
  run: {
    name: 'run',
    summary: 'Run a pipeline file (YAML) reproducibly in a run directory; unchanged steps are reused, a killed run resumes.',
    usage: `run [PIPELINE.yaml] [--run-dir DIR] [--set KEY=VALUE]... [--seed N] [--force] [--rerun STEP,...] [--only STEP,...]
                       [--reuse-from DIR]... [--allow-existing-dir] [--dry-run] [--json] [--quiet] [--verbose]
         run PIPELINE.yaml --executor queue --queue nats://HOST:4222 [--store DIR] [--timeout SECONDS] [...]

    PIPELINE.yaml     default: fixtures/pipelines/default.yaml (the embedded model, subject-verb
                      disagreement: circuit discovery, node redundancy, fine-tuning variants,
                      their evaluation, then the report)
    --run-dir DIR     where outputs go (default runs/<pipeline name>)
    --set KEY=VALUE   change the pipeline without editing it: seed=3, discover.variant=eap-ig,
                      discover.config.selection.n=100, train-lora.config.steps=50 (values are YAML)
    --seed N          the same as --set seed=N
    --force           rerun every step even when its config and inputs are unchanged
    --rerun STEPS     rerun these steps (what depends on them reruns when their outputs change)
    --only STEPS      run these steps and the steps they need, nothing else
    --reuse-from DIR  copy finished steps that match exactly from another run directory (or a folder of them)
    --allow-existing-dir  use a --run-dir that exists and was not made by circuit-tuning: the run
                      writes beside its files and refuses to overwrite or delete any of them
    --dry-run         check and resolve the pipeline, print it as JSON, run nothing
    --json            print the run's result as JSON on stdout
    --quiet           no progress on stderr;  --verbose: the stages' debug lines too

    --executor NAME   local (default): every step runs here; queue: the members of foreach groups
                      go as jobs to \`ct worker\` processes on any machines (the queue \`sweep\`
                      uses), and come back through the shared artifact store; the other steps
                      run here. The run directory ends up as a local run's. A killed run rerun
                      with the same command reuses the steps that finished and waits for those
                      still queued; a step whose config is wrong is not retried and fails the run.
    --queue URL       the queue's server (or CT_QUEUE_URL); credentials in the URL or
                      CT_QUEUE_USER/CT_QUEUE_PASSWORD/CT_QUEUE_TOKEN, never written anywhere
    --store DIR       the artifact store the workers share (or CT_STORE); default: the object
                      store in the queue's server. Must be the workers'.
    --timeout SECONDS how long the run waits for one batch of steps (default 86400)
    --ack-wait SECONDS, --max-deliver N   the queue's terms, as for \`sweep\`

    A run directory holds pipeline.yaml, pipeline.resolved.json, run.json, log.jsonl and one
    directory per step (outputs, manifest.json, log.jsonl). Exit status: 0 when every step
    succeeded, 3-6 for the failing step's error kind, ${EXIT_CANCELLED} when cancelled.`,
    options: {
      'run-dir': { type: 'string' },
      set: { type: 'string', multiple: true },
      seed: { type: 'string' },
      force: { type: 'boolean' },
      rerun: { type: 'string', multiple: true },
      only: { type: 'string', multiple: true },
      'reuse-from': { type: 'string', multiple: true },
      'allow-existing-dir': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
      ...QUEUE_OPTIONS,
    },
  },
  verify: {
    name: 'verify',
    summary: 'Rerun a finished run from its pipeline.resolved.json in a scratch directory and compare every output hash.',
    usage: `verify RUN_DIR [--work DIR] [--keep] [--json] [--quiet]

    --work DIR   where the rerun goes (default RUN_DIR.verify); a previous rerun there is replaced,
                 anything else (the run itself, a folder verify did not make) is refused
    --keep       keep the rerun directory (it is always kept when something differs)
    --json       print the comparison as JSON on stdout

    The rerun uses the backend the run used (pass --backend to override). Tables that differ are
    compared column by column; a column that holds wall-clock times (the training log's step_ms)
    is reported as timing-only. Exit status: 0 when every output is reproduced, ${EXIT_NOT_REPRODUCED} when one
    differs, 3-6 when the rerun fails.`,
    options: { work: { type: 'string' }, keep: { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean' } },
  },
  sweep: {
    name: 'sweep',
    summary: 'Run a pipeline over a grid of settings (e.g. top-N × seed × variant), each trial in its own run directory, summarised in one table.',
    usage: `sweep SWEEP.yaml [--out DIR] [--concurrency N] [--json]
         sweep PIPELINE.yaml --grid KEY=V1,V2,... [--grid ...] [--set KEY=VALUE]... [--concurrency N] [--metrics PATTERNS] [--out DIR]
         sweep SWEEP.yaml --executor queue --queue nats://HOST:4222 [--store DIR] [--timeout SECONDS]
         sweep --status --queue nats://HOST:4222 [--sweep ID]

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

    --executor NAME     local (default): trials run here as child processes; queue: one job per
                        trial on a NATS JetStream queue, run by \`ct worker\` on any machines
    --queue URL         the queue's server (or CT_QUEUE_URL); credentials in the URL
                        (nats://user:password@host:4222) or CT_QUEUE_USER/CT_QUEUE_PASSWORD/
                        CT_QUEUE_TOKEN, never written anywhere
    --store DIR         the artifact store the workers share: a directory every machine mounts
                        (or CT_STORE); default: the object store in the queue's server
    --timeout SECONDS   how long the sweep waits for its trials (default 86400); they stay queued after
    --ack-wait SECONDS  a job whose worker went silent this long is delivered again (default 60;
                        set when the queue is first used)
    --max-deliver N     deliveries of a job at most, first and retries (default 5; likewise)
    --status            the queue's jobs by state (of one --sweep ID, or of every sweep and every
                        \`run --executor queue\`, whose foreach steps are jobs too)

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
      ...QUEUE_OPTIONS,
      status: { type: 'boolean' },
      sweep: { type: 'string' },
    },
  },
  worker: {
    name: 'worker',
    summary: 'Run the trials of sweeps queued with `sweep --executor queue`, on this machine, sharing steps through the artifact store.',
    usage: `worker --queue nats://HOST:4222 [--concurrency N] [--backend NAME] [--work-dir DIR] [--store DIR] [--max-jobs N]

    --queue URL        the queue's server (or CT_QUEUE_URL); credentials in the URL or
                       CT_QUEUE_USER/CT_QUEUE_PASSWORD/CT_QUEUE_TOKEN, never written anywhere
    --concurrency N    trials at once, each its own process (default 1)
    --backend NAME     what computes, for every trial this worker runs (default: each pipeline's)
    --work-dir DIR     where trials run, one run directory each: DIR/<sweep>/<trial>
                       (default runs/worker)
    --store DIR        the shared artifact store, a directory every machine mounts (or CT_STORE);
                       default: the object store in the queue's server. Must be the sweep's.
    --max-jobs N       stop after taking N jobs (default: run until Ctrl-C)

    A trial whose config is wrong (exit 3) is not retried; any other failure is retried after 1, 2,
    4 ... s, on whichever worker takes it, up to the queue's deliveries. A worker that dies has its
    trial delivered again after the queue's ack wait; the next worker resumes from the checkpoints
    the store keeps.`,
    options: {
      queue: { type: 'string' },
      concurrency: { type: 'string' },
      'work-dir': { type: 'string' },
      store: { type: 'string' },
      'max-jobs': { type: 'string' },
      'run-job': { type: 'string' },
      outcome: { type: 'string' },
    },
  },
  store: {
    name: 'store',
    summary: 'Garbage-collect the artifact store queue workers share: steps and trials no kept sweep or run uses, stale partial state, abandoned writes.',
    usage: `store gc [--store DIR | --queue nats://HOST:4222] [--older-than AGE] [--keep ID]... [--delete] [--json]

    --store DIR        the shared-directory store (or CT_STORE)
    --queue URL        else the object store in the queue's server (or CT_QUEUE_URL); credentials
                       as for \`worker\`, never written anywhere
    --older-than AGE   what was written within AGE stays, whatever uses it: 90s, 30m, 12h, 7d
                       (default 7d). Sweeps and runs that used the store within AGE are kept.
    --keep ID          also keep what this sweep (its id, as \`sweep --status\` shows it) or
                       run (its jobs' id) uses, however old; repeat for several
    --delete           remove what is listed; without it nothing is removed (a dry run)
    --json             the list as JSON on stdout

    Goes: finished steps (steps/) and trials (runs/) that no kept sweep or run uses; the
    resumable state of a step (partial/) whose job holds no live lease; expired leases; writes
    never published. Never: anything written within AGE, the state of a step a job is running
    (its lease is renewed every minute), the store's identity.`,
    options: {
      store: { type: 'string' },
      queue: { type: 'string' },
      'older-than': { type: 'string' },
      keep: { type: 'string', multiple: true },
      delete: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  },
  view: {
    name: 'view',
    summary: 'Serve a web page on localhost that shows a run: steps, the circuit (hover for scores), curves and the training log.',
    usage: `view RUN_DIR [--port N] [--host ADDRESS]

    --port N        the port (default: a free one); the address is printed on stdout
    --host ADDRESS  where to listen (default 127.0.0.1: this machine only)

    Reads the run directory on every request, so a run in progress can be watched. Ctrl-C stops.`,
    options: { port: { type: 'string' }, host: { type: 'string' } },
  },
  export: {
    name: 'export',
    summary: 'Write one of a run\'s tables as CSV, JSON, JSON lines or Parquet (for tools that do not read Arrow).',
    usage: `export TABLE.arrow [--format csv|json|jsonl|parquet] [--out FILE] [--force]
         export RUN_DIR STEP.PORT [...]

    --format F   csv (default), json (one document: schema, producer, rows), jsonl (a row per
                 line) or parquet
    --out FILE   where to write (text formats: stdout when absent; parquet needs it)
    --force      replace --out when it exists

    CSV writes lists (token ids) as JSON arrays and nulls as empty fields; JSON writes NaN and
    ±Infinity as null. Example: circuit-tuning export runs/default discover.edges --out edges.csv`,
    options: { format: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } },
  },
  stage: {
    name: 'stage',
    summary: 'Run one registered stage alone (stage --list shows them all; stage SLOT:VARIANT --help its ports and config).',
    usage: `stage SLOT:VARIANT ${STAGE_USAGE}
         stage --list

  ${STAGE_OPTIONS_HELP}

    Every stage is also a command of its own: circuit-tuning discover:eap --help.`,
    options: STAGE_OPTIONS,
  },
} as const satisfies Record<string, CommandInfo>;

export type CommandName = keyof typeof COMMAND_INFO;
