/**
 * How a pipeline run is shown on stderr. On a terminal: the list of steps with their status,
 * redrawn in place, with a bar for the running step's progress and log lines scrolling above.
 * Elsewhere (CI, a file, a pipe): plain lines, progress at most once every few seconds per bar.
 * Stages never print; they report events and this decides (docs/contracts.md §4: a stage reports through its context; the app decides how to show it).
 */
import type { StageEvent } from '@circuit-tuning/runtime';
import type { ResolvedPipeline, ResolvedStep } from './resolve';
import type { PipelineDisplay, PipelineRunResult, StepResult, StepStatus } from './runner';

export interface DisplayOptions {
  write?: (text: string) => void;
  /** Log level shown (debug shows the stages' debug lines too). */
  verbose?: boolean;
  /** Plain lines: seconds between two progress lines of one bar. */
  progressEverySeconds?: number;
  columns?: () => number;
}

/** A terminal display when stderr is a TTY, plain lines otherwise. */
export function createDisplay(options: DisplayOptions & { quiet?: boolean } = {}): PipelineDisplay {
  if (options.quiet === true) return quietDisplay();
  const tty = process.stderr.isTTY === true && process.env.CI === undefined && process.env.TERM !== 'dumb';
  return tty ? new TerminalDisplay(options) : new PlainDisplay(options);
}

function quietDisplay(): PipelineDisplay {
  const noop = () => undefined;
  // Quiet drops progress, not warnings.
  return { start: noop, stepStart: noop, event: noop, stepEnd: noop, finish: noop, warn: (message) => void process.stderr.write(`warning: ${message}\n`) };
}

const seconds = (ms: number | undefined) => (ms === undefined ? '' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

function formatFields(fields: Readonly<Record<string, unknown>> | undefined): string {
  if (fields === undefined) return '';
  const parts = Object.entries(fields)
    .filter(([k]) => k !== 'stack')
    .map(([k, v]) => `${k}=${typeof v === 'number' ? formatNumber(v) : typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

function formatNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4);
}

function statusWord(result: StepResult): string {
  switch (result.status) {
    case 'cached':
      return result.reusedFrom === undefined ? 'reused (unchanged)' : `reused from ${result.reusedFrom}`;
    case 'succeeded':
      return `done in ${seconds(result.durationMs)}`;
    case 'failed':
      return result.error?.kind === 'aborted' ? `stopped (${result.error.message})` : `FAILED: ${result.error?.message ?? 'error'}`;
    default:
      return result.status;
  }
}

/** Plain lines, for logs and CI. */
export class PlainDisplay implements PipelineDisplay {
  readonly #write: (text: string) => void;
  readonly #verbose: boolean;
  readonly #every: number;
  readonly #last = new Map<string, number>();
  #total = 0;

  constructor(options: DisplayOptions = {}) {
    this.#write = options.write ?? ((text) => process.stderr.write(text));
    this.#verbose = options.verbose === true;
    this.#every = (options.progressEverySeconds ?? 5) * 1000;
  }

  start(pipeline: ResolvedPipeline, runDir: string): void {
    this.#total = pipeline.steps.length;
    this.#write(`pipeline ${pipeline.name}: ${pipeline.steps.length} steps, seed ${pipeline.seed}, run directory ${runDir}\n`);
  }

  stepStart(step: ResolvedStep, index: number): void {
    this.#write(`[${index + 1}/${this.#total}] ${step.id} (${step.stage.id}) started\n`);
  }

  event(step: ResolvedStep, event: StageEvent): void {
    if (event.type === 'log') {
      if (event.level === 'debug' && !this.#verbose) return;
      this.#write(`  [${step.id}] ${event.level === 'warn' ? 'warning: ' : ''}${event.message}${formatFields(event.fields)}\n`);
      return;
    }
    const key = `${step.id}/${event.label}`;
    const now = Date.now();
    const last = this.#last.get(key);
    if (!event.done && last !== undefined && now - last < this.#every) return;
    this.#last.set(key, now);
    const of = event.total === undefined ? '' : `/${event.total}`;
    this.#write(`  [${step.id}] ${event.label} ${event.completed}${of}${event.done ? ' done' : ''}${formatFields(event.fields)}\n`);
  }

  stepEnd(step: ResolvedStep, result: StepResult, index: number): void {
    this.#write(`[${index + 1}/${this.#total}] ${step.id} ${statusWord(result)}\n`);
    if (result.error?.hint) this.#write(`  hint: ${result.error.hint}\n`);
  }

  finish(result: PipelineRunResult): void {
    const counts = countStatuses(result.steps);
    this.#write(`pipeline ${result.status}: ${counts}\n`);
  }

  warn(message: string): void {
    this.#write(`warning: ${message}\n`);
  }
}

function countStatuses(steps: readonly StepResult[]): string {
  const counts = new Map<StepStatus, number>();
  for (const step of steps) counts.set(step.status, (counts.get(step.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
}

const ICONS: Record<StepStatus, string> = { pending: '·', running: '▶', succeeded: '✓', cached: '↺', failed: '✗', skipped: '-' };
const COLOURS: Record<StepStatus, string> = { pending: '2', running: '36', succeeded: '32', cached: '32', failed: '31', skipped: '2' };

/** The live step list for a terminal. */
export class TerminalDisplay implements PipelineDisplay {
  readonly #write: (text: string) => void;
  readonly #verbose: boolean;
  readonly #columns: () => number;
  #steps: { step: ResolvedStep; status: StepStatus; started?: number; durationMs?: number; note?: string }[] = [];
  readonly #bars = new Map<string, { label: string; completed: number; total?: number; fields?: string }>();
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;

  constructor(options: DisplayOptions = {}) {
    this.#write = options.write ?? ((text) => process.stderr.write(text));
    this.#verbose = options.verbose === true;
    this.#columns = options.columns ?? (() => process.stderr.columns ?? 100);
  }

  start(pipeline: ResolvedPipeline, runDir: string): void {
    this.#steps = pipeline.steps.map((step) => ({ step, status: 'pending' as const }));
    this.#print(`pipeline ${pipeline.name} (seed ${pipeline.seed}) → ${runDir}`);
    this.#timer = setInterval(() => {
      if (this.#dirty) this.#redraw();
    }, 100);
    this.#timer.unref();
  }

  stepStart(step: ResolvedStep): void {
    const row = this.#row(step);
    if (row) {
      row.status = 'running';
      row.started = Date.now();
    }
    this.#redraw();
  }

  event(step: ResolvedStep, event: StageEvent): void {
    if (event.type === 'log') {
      if (event.level === 'debug' && !this.#verbose) return;
      if (event.level === 'info' && /^(running|reusing|succeeded)/.test(event.message)) return; // the list shows these
      this.#print(`  [${step.id}] ${event.level === 'warn' ? 'warning: ' : ''}${event.message}${formatFields(event.fields)}`);
      return;
    }
    this.#bars.set(step.id, {
      label: event.label,
      completed: event.completed,
      ...(event.total === undefined ? {} : { total: event.total }),
      fields: formatFields(event.fields),
    });
    this.#dirty = true;
  }

  stepEnd(step: ResolvedStep, result: StepResult): void {
    const row = this.#row(step);
    if (row) {
      row.status = result.status;
      if (result.durationMs !== undefined) row.durationMs = result.durationMs;
      row.note = result.status === 'failed' ? result.error?.message : result.status === 'cached' ? 'reused' : undefined;
    }
    this.#bars.delete(step.id);
    this.#redraw();
  }

  finish(result: PipelineRunResult): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#redraw();
    this.#drawn = 0;
    this.#write(`pipeline ${result.status}: ${countStatuses(result.steps)}\n`);
  }

  warn(message: string): void {
    this.#print(`warning: ${message}`);
  }

  #row(step: ResolvedStep) {
    return this.#steps.find((r) => r.step.id === step.id);
  }

  /** A line above the step list. */
  #print(line: string): void {
    this.#clear();
    this.#write(`${line}\n`);
    this.#draw();
  }

  #redraw(): void {
    this.#clear();
    this.#draw();
  }

  #clear(): void {
    if (this.#drawn > 0) this.#write(`\x1b[${this.#drawn}A\x1b[0J`);
    this.#drawn = 0;
  }

  #draw(): void {
    this.#dirty = false;
    const width = Math.max(40, this.#columns());
    const idWidth = Math.min(24, Math.max(...this.#steps.map((r) => r.step.id.length), 4));
    const stageWidth = Math.min(28, Math.max(...this.#steps.map((r) => r.step.stage.id.length), 5));
    const lines: string[] = [];
    for (const row of this.#steps) {
      const elapsed = row.status === 'running' && row.started !== undefined ? Date.now() - row.started : row.durationMs;
      let line = `${ICONS[row.status]} ${row.step.id.padEnd(idWidth)} ${row.step.stage.id.padEnd(stageWidth)} ${seconds(elapsed).padStart(8)}`;
      const bar = this.#bars.get(row.step.id);
      if (row.status === 'running' && bar !== undefined) line += `  ${bar.label} ${progressBar(bar.completed, bar.total)}${bar.fields ?? ''}`;
      else if (row.note !== undefined) line += `  ${row.note}`;
      lines.push(`\x1b[${COLOURS[row.status]}m${truncate(line, width - 1)}\x1b[0m`);
    }
    this.#write(`${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }
}

function progressBar(completed: number, total: number | undefined): string {
  if (total === undefined || total <= 0) return String(completed);
  const width = 20;
  const filled = Math.max(0, Math.min(width, Math.round((completed / total) * width)));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${completed}/${total}`;
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
