/**
 * What a report shows, gathered from a run's artifacts by sections. A section looks at one step
 * at a time (its stage, its outputs) and adds facts to a comparison table, series to a chart, a
 * circuit drawing, or a small table. The built-in sections know the training log, discovery's
 * outputs and the model tables (`builtinSections`); a new stage (evaluation, redundancy) adds its
 * own section to the list in report-stage.ts, or is shown by the generic one (its small tables and
 * JSON facts).
 *
 * Only artifacts are read, never manifest timings or summaries: a report must be the same for a
 * run that was killed and resumed as for one that was not.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { type ArtifactRecord, ModelParametersTable, TrainLogTable } from '@circuit-tuning/contracts';
import { DiscoveryEdgesTable, DiscoveryNodesTable, DiscoverySummary, FaithfulnessCurveTable } from '@circuit-tuning/discovery';
import { type RawArrowTable, readArrowTable, readArrowTableAny } from '@circuit-tuning/runtime';
import { type CircuitEdgeRow, type CircuitNodeRow, circuitDrawingSvg, downsample } from '@circuit-tuning/viz';
import type { RunIndexStep } from '@circuit-tuning/runtime';

export type FactValue = string | number | null;

export interface ReportChart {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: { name: string; points: [number, number][] }[];
  /** Horizontal reference lines (τ on a faithfulness chart), each once. */
  hLines?: { value: number; label: string }[];
}

export interface ComparisonTable {
  columns: string[];
  rows: Map<string, Map<string, FactValue>>;
  /** Columns that hold wall-clock measurements: rendered as timings (see timing.ts). */
  timingColumns: Set<string>;
  /** What the first column names (default 'step'). */
  rowLabel?: string;
  /** Sentences under the table: what the columns mean. */
  notes: string[];
}

/** A figure a stage drew (an SVG file among its outputs), shown as it is. */
export interface ReportFigure {
  step: string;
  title: string;
  svg: string;
  /** The SVG file, relative to the run directory. */
  file: string;
}

export interface ReportModel {
  /** Sentences generated from the numbers that say which variant wins on what (./verdict.ts). */
  verdict: string[];
  /** The table the report opens with (one row per compared model), when the run has one. */
  headline?: { title: string; table: ComparisonTable };
  comparisons: Map<string, ComparisonTable>;
  charts: Map<string, ReportChart>;
  circuits: { step: string; title: string; svg: string; file?: string }[];
  figures: ReportFigure[];
  tables: { step: string; port: string; title: string; columns: string[]; rows: FactValue[][]; totalRows: number }[];
}

/** One step as a section sees it. */
export interface StepView {
  step: RunIndexStep;
  /** `slot:variant`. */
  stageId: string;
  output(port: string): { record: ArtifactRecord; path: string } | undefined;
  /** Outputs whose Arrow table has this schema name. */
  outputsWithSchema(schema: string): { record: ArtifactRecord; path: string }[];
  /** The absolute path of any artifact the run index records (an input of this step, say). */
  pathOf(record: ArtifactRecord): string;
}

export interface FactOptions {
  /** A wall-clock measurement: it differs between two runs of the same pipeline. */
  timing?: boolean;
  /** What the table's first column names (default 'step'). */
  rowLabel?: string;
}

export interface ReportBuilder {
  /** A value in the comparison table `table`, row `step`, column `column` (columns keep first-seen order). */
  fact(table: string, step: string, column: string, value: FactValue, options?: FactOptions): void;
  /** A sentence under a comparison table (once). */
  note(table: string, text: string): void;
  /** The same as `fact`, in the table the report opens with. */
  headline(title: string, row: string, column: string, value: FactValue, options?: FactOptions): void;
  headlineNote(title: string, text: string): void;
  /** A sentence of the verdict the report opens with. */
  verdict(sentence: string): void;
  figure(entry: ReportFigure): void;
  /** Adds a series to a chart, creating the chart on first use. */
  series(chart: Omit<ReportChart, 'series'>, name: string, points: [number, number][]): void;
  /** A horizontal reference line on a chart, when the chart exists (τ on the faithfulness curves). */
  chartLine(chartId: string, line: { value: number; label: string }): void;
  circuit(step: string, title: string, svg: string, file?: string): void;
  table(entry: ReportModel['tables'][number]): void;
}

export interface ReportSection {
  name: string;
  /** Adds what it recognises in this step; returns the ports it handled (the generic section skips them). */
  add(view: StepView, report: ReportBuilder): Promise<string[]>;
  /** After every step was added: what needs several steps at once (the headline joins evaluations with training). */
  finish?(views: readonly StepView[], report: ReportBuilder): Promise<void>;
}

export function newReportModel(): { model: ReportModel; builder: ReportBuilder } {
  const model: ReportModel = { verdict: [], comparisons: new Map(), charts: new Map(), circuits: [], figures: [], tables: [] };
  const comparison = (table: string): ComparisonTable => {
    let t = model.comparisons.get(table);
    if (t === undefined) {
      t = emptyTable();
      model.comparisons.set(table, t);
    }
    return t;
  };
  const builder: ReportBuilder = {
    fact(table, step, column, value, options) {
      setFact(comparison(table), step, column, value, options);
    },
    note(table, text) {
      const t = comparison(table);
      if (!t.notes.includes(text)) t.notes.push(text);
    },
    headline(title, row, column, value, options) {
      model.headline ??= { title, table: emptyTable() };
      setFact(model.headline.table, row, column, value, options);
    },
    headlineNote(title, text) {
      model.headline ??= { title, table: emptyTable() };
      if (!model.headline.table.notes.includes(text)) model.headline.table.notes.push(text);
    },
    verdict(sentence) {
      model.verdict.push(sentence);
    },
    figure(entry) {
      model.figures.push(entry);
    },
    series(chart, name, points) {
      let c = model.charts.get(chart.id);
      if (c === undefined) {
        c = { ...chart, series: [] };
        model.charts.set(chart.id, c);
      }
      c.series.push({ name, points });
    },
    chartLine(chartId, line) {
      const c = model.charts.get(chartId);
      if (c === undefined) return;
      c.hLines ??= [];
      if (!c.hLines.some((l) => l.value === line.value && l.label === line.label)) c.hLines.push(line);
    },
    circuit(step, title, svg, file) {
      model.circuits.push({ step, title, svg, ...(file === undefined ? {} : { file }) });
    },
    table(entry) {
      model.tables.push(entry);
    },
  };
  return { model, builder };
}

function emptyTable(): ComparisonTable {
  return { columns: [], rows: new Map(), timingColumns: new Set(), notes: [] };
}

function setFact(t: ComparisonTable, step: string, column: string, value: FactValue, options: FactOptions | undefined): void {
  if (!t.columns.includes(column)) t.columns.push(column);
  if (options?.timing) t.timingColumns.add(column);
  if (options?.rowLabel !== undefined) t.rowLabel = options.rowLabel;
  let row = t.rows.get(step);
  if (row === undefined) {
    row = new Map();
    t.rows.set(step, row);
  }
  row.set(column, value);
}

/** The mean of the last tenth of a series (at least one value): a steadier "final" loss than the last step. */
function tailMean(values: ArrayLike<number>): number | null {
  const n = values.length;
  if (n === 0) return null;
  const k = Math.max(1, Math.floor(n / 10));
  let sum = 0;
  for (let i = n - k; i < n; i++) sum += values[i] as number;
  return sum / k;
}

const trainingSection: ReportSection = {
  name: 'training',
  async add(view, report) {
    const handled: string[] = [];
    for (const { record, path } of view.outputsWithSchema(TrainLogTable.name)) {
      handled.push(record.port);
      const { columns, numRows } = await readArrowTable(path, TrainLogTable);
      const id = view.step.id;
      const table = 'Training';
      report.fact(table, id, 'variant', view.stageId);
      // Circuit-tuning changes its circuit as it goes: the mean over steps is what it trained.
      let trainable = 0;
      for (const n of columns.trainable_parameters) trainable += n;
      report.fact(table, id, 'trainable parameters', numRows === 0 ? null : Math.round(trainable / numRows));
      report.fact(table, id, 'steps', numRows);
      report.fact(table, id, 'tokens', numRows === 0 ? null : (columns.tokens[numRows - 1] as number));
      report.fact(table, id, 'first loss', numRows === 0 ? null : (columns.loss[0] as number));
      report.fact(table, id, 'final loss', tailMean(columns.loss));
      const evals: [number, number][] = [];
      columns.eval_loss.forEach((v, i) => {
        if (v !== null) evals.push([columns.step[i] as number, v]);
      });
      report.fact(table, id, 'final eval loss', evals.length === 0 ? null : (evals[evals.length - 1] as [number, number])[1]);
      const metrics: [number, number][] = [];
      columns.metric.forEach((v, i) => {
        if (v !== null) metrics.push([columns.step[i] as number, v]);
      });
      if (metrics.length > 0) report.fact(table, id, 'final metric', (metrics[metrics.length - 1] as [number, number])[1]);
      const circuit: [number, number][] = [];
      columns.circuit_edges.forEach((v, i) => {
        if (v !== null) circuit.push([columns.step[i] as number, v]);
      });
      if (circuit.length > 0) {
        report.fact(table, id, 'circuit edges (last step)', (circuit[circuit.length - 1] as [number, number])[1]);
        // Steps whose circuit owned no parameters (the emptyCircuit policy skipped them or trained
        // the previous circuit): a researcher must see them, 0 included.
        let empty = 0;
        for (const action of columns.empty_circuit) if (action !== null) empty++;
        report.fact(table, id, 'steps with an empty circuit', empty);
        report.series({ id: 'circuit-size', title: 'Circuit size during training', xLabel: 'step', yLabel: 'edges' }, id, downsample(circuit, 300));
      }
      const loss = Array.from(columns.step, (s, i): [number, number] => [s, columns.loss[i] as number]);
      report.series({ id: 'train-loss', title: 'Training loss', xLabel: 'step', yLabel: 'loss' }, id, downsample(loss, 300));
      if (evals.length > 0) report.series({ id: 'eval-loss', title: 'Evaluation loss', xLabel: 'step', yLabel: 'loss' }, id, evals);
      if (metrics.length > 0) report.series({ id: 'train-metric', title: 'Task metric during training', xLabel: 'step', yLabel: 'metric' }, id, metrics);
    }
    return handled;
  },
};

/** What the faithfulness columns mean (docs/method.md §2.6), written under each table that has them. */
export const FAITHFULNESS_DEFINITIONS =
  'Faithfulness = (m(circuit) − m(∅)) / (m(model) − m(∅)), with m the task metric when every edge outside the circuit is ablated (m(∅): all of them); 1 is the whole model. CPR (circuit performance ratio) is the area under the faithfulness curve, by trapezoids over x = the share of the graph in each circuit after pruning (edges kept / edges in graph; heads and MLPs kept / all of them for node curves), from the smallest measured circuit to the largest, as MIB defines it; CMD (circuit-model difference) is the area between that curve and 1 over the same x, ∫ |1 − f| (docs/method.md §2.6). Higher CPR and lower CMD mean a smaller circuit that does what the model does.';

const discoverySection: ReportSection = {
  name: 'discovery',
  async add(view, report) {
    const handled: string[] = [];
    const id = view.step.id;
    const summary = view.output('summary');
    if (summary !== undefined && view.step.stage.slot === 'discover') {
      const parsed = DiscoverySummary.safeParse(JSON.parse(await readFile(summary.path, 'utf8')));
      if (parsed.success) {
        handled.push('summary');
        const s = parsed.data;
        const table = 'Circuit discovery';
        report.fact(table, id, 'method', s.method);
        report.fact(table, id, 'metric', s.metric);
        report.fact(table, id, 'prompts', s.examples);
        report.fact(table, id, 'edges in graph', s.edgesTotal);
        report.fact(table, id, 'circuit edges', s.circuit.edges);
        report.fact(table, id, 'circuit nodes', s.circuit.nodes);
        report.fact(table, id, 'faithfulness', s.circuit.faithfulness);
        report.fact(table, id, 'CPR', s.curve?.cpr ?? null);
        report.fact(table, id, 'CMD', s.curve?.cmd ?? null);
        report.note(table, FAITHFULNESS_DEFINITIONS);
        report.note(
          table,
          'Circuit nodes: the heads and MLPs (and the input and logits) that a kept edge joins, after pruning edges that reach neither the input nor the logits; edges in graph: every writer → reader edge of the model (docs/method.md §1).',
        );
      }
    }
    for (const { record, path } of view.outputsWithSchema(FaithfulnessCurveTable.name)) {
      handled.push(record.port);
      const { columns } = await readArrowTable(path, FaithfulnessCurveTable);
      const points = Array.from(columns.fraction, (x, i): [number, number] => [x, columns.faithfulness[i] as number]);
      report.series({ id: 'faithfulness', title: 'Faithfulness of top-N circuits', xLabel: 'fraction of edges', yLabel: 'faithfulness' }, id, points);
    }
    const edges = view.outputsWithSchema(DiscoveryEdgesTable.name)[0];
    const nodes = view.outputsWithSchema(DiscoveryNodesTable.name)[0];
    if (edges !== undefined && nodes !== undefined) {
      handled.push(edges.record.port, nodes.record.port);
      const drawing = await circuitFromTables(nodes.path, edges.path, { title: `${id}: ${view.stageId}` });
      const svgFile = view.output('svg');
      // The drawings and the EAP-IG JSON hold what the tables hold.
      handled.push('svg', 'png', 'circuit');
      report.circuit(id, `${id} (${view.stageId})`, drawing, svgFile?.record.path);
    }
    return handled;
  },
};

/** What a drawing says it shows: its first bold text (viz writes a drawing's title so), unescaped. */
function drawingTitle(svg: string): string | undefined {
  const text = /<text\b[^>]*font-weight="bold"[^>]*>([^<]+)<\/text>/.exec(svg)?.[1];
  if (text === undefined) return undefined;
  return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&apos;', "'").replaceAll('&amp;', '&');
}

/** The drawing of a discovery run's circuit, from its node and edge tables. */
export async function circuitFromTables(nodesPath: string, edgesPath: string, options: { title: string; maxEdges?: number }): Promise<string> {
  const n = (await readArrowTable(nodesPath, DiscoveryNodesTable)).columns;
  const e = (await readArrowTable(edgesPath, DiscoveryEdgesTable)).columns;
  const nodes: CircuitNodeRow[] = n.name.map((name, i) => ({ name, score: n.score[i] as number, inCircuit: n.in_circuit[i] as boolean }));
  const edges: CircuitEdgeRow[] = e.name.map((name, i) => ({
    name,
    writer: e.writer[i] as string,
    reader: e.reader[i] as string,
    qkv: e.qkv[i] as CircuitEdgeRow['qkv'],
    score: e.score[i] as number,
    inCircuit: e.in_circuit[i] as boolean,
    rank: e.rank[i] as number,
  }));
  const inCircuit = edges.filter((x) => x.inCircuit).length;
  return circuitDrawingSvg(nodes, edges, {
    title: options.title,
    subtitle: `${inCircuit} of ${edges.length} edges, ${nodes.filter((x) => x.inCircuit).length} of ${nodes.length} nodes`,
    ...(options.maxEdges === undefined ? {} : { maxEdges: options.maxEdges }),
  });
}

const modelSection: ReportSection = {
  name: 'model',
  async add(view, report) {
    const params = view.outputsWithSchema(ModelParametersTable.name)[0];
    if (params === undefined) return [];
    const { columns } = await readArrowTable(params.path, ModelParametersTable);
    let total = 0;
    for (const size of columns.size) total += size;
    report.fact('Model', view.step.id, 'parameters', total);
    report.fact('Model', view.step.id, 'tensors', columns.name.length);
    const nodes = view.output('nodes');
    if (nodes?.record.rows !== undefined) report.fact('Model', view.step.id, 'nodes', nodes.record.rows);
    return nodes === undefined ? [params.record.port] : [params.record.port, 'nodes'];
  },
};

/** Tables and JSON of stages no section knows: small tables in full, JSON numbers as facts. */
const genericSection: ReportSection = {
  name: 'generic',
  async add(view, report) {
    for (const record of view.step.outputs) {
      const output = view.output(record.port);
      if (output === undefined) continue;
      if (record.kind === 'arrow' && record.rows !== undefined && record.rows <= 30 && !isDataset(record)) {
        const table: RawArrowTable = await readArrowTableAny(output.path);
        const columns = table.fields.map((f) => f.name);
        const rows = Array.from({ length: table.numRows }, (_, i) => columns.map((c) => plain((table.columns[c] as ArrayLike<unknown>)[i])));
        report.table({ step: view.step.id, port: record.port, title: `${view.step.id}.${record.port} (${record.schema ?? 'table'})`, columns, rows, totalRows: table.numRows });
      } else if (record.kind === 'file' && record.path.endsWith('.svg')) {
        // A stage's own drawing, shown as it is (and linked from the Markdown).
        const svg = await readFile(output.path, 'utf8');
        report.figure({ step: view.step.id, title: `${view.step.id}: ${drawingTitle(svg) ?? basename(record.path)}`, svg: svg.replace(/^<\?xml[^>]*>\s*/, ''), file: record.path });
      } else if (record.kind === 'json' && record.bytes <= 2048) {
        const value = JSON.parse(await readFile(output.path, 'utf8')) as unknown;
        for (const [key, v] of flatten(value)) report.fact(`${view.step.stage.slot} results`, view.step.id, `${record.port}.${key}`, v);
      }
    }
    return [];
  },
};

/** Datasets (prompts, texts) are inputs to the science, not results: never tabulated. */
function isDataset(record: ArtifactRecord): boolean {
  return record.schema === 'ct.prompts' || record.schema === 'ct.texts';
}

function plain(value: unknown): FactValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Numeric and short string leaves of a JSON value, as dotted keys (at most 24). */
function flatten(value: unknown, prefix = '', out: [string, FactValue][] = []): [string, FactValue][] {
  if (out.length >= 24) return out;
  if (typeof value === 'number' || (typeof value === 'string' && value.length <= 40)) out.push([prefix || 'value', value]);
  else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

/** The sections for the model tables, discovery's outputs and the training log, in this order. */
export const builtinSections: readonly ReportSection[] = [modelSection, discoverySection, trainingSection];

/** Runs every section over every step, in order, then the generic one over the ports nobody handled. */
export async function buildReportModel(views: readonly StepView[], sections: readonly ReportSection[]): Promise<ReportModel> {
  const { model, builder } = newReportModel();
  for (const view of views) {
    const handled = new Set<string>();
    for (const section of sections) for (const port of await section.add(view, builder)) handled.add(port);
    const rest: StepView = { ...view, step: { ...view.step, outputs: view.step.outputs.filter((o) => !handled.has(o.port)) } };
    await genericSection.add(rest, builder);
  }
  for (const section of sections) await section.finish?.(views, builder);
  return model;
}
