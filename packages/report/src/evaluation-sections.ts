/**
 * Report sections of the evaluation and redundancy stages: the comparison of runs as one table
 * per task (metrics × runs, with the difference from the reference run), node redundancy (N*, the
 * redundancy ratio, CPR and CMD, against random circuits), the circuit across training (shared,
 * new and dropped nodes and edges) and the logit lens's strongest heads. Their drawings are SVG
 * files, which the generic section shows as figures.
 */
import { readFile } from 'node:fs/promises';
import { EvaluationComparisonTable } from '@circuit-tuning/evaluation';
import { RedundancySummary } from '@circuit-tuning/redundancy';
import { readArrowTable } from '@circuit-tuning/runtime';
import { formatValue } from '@circuit-tuning/viz';
import { FAITHFULNESS_DEFINITIONS, type ReportSection } from './sections';

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

const isRecord = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
const num = (x: unknown): number | null => (typeof x === 'number' ? x : null);

/** `evaluate:tasks`: what it measured is in the headline and, compared, under `evaluate:compare`. */
const evaluateTasksSection: ReportSection = {
  name: 'evaluate:tasks',
  async add(view) {
    return view.stageId === 'evaluate:tasks' ? ['metrics', 'summary'] : [];
  },
};

const ARROWS: Record<string, string> = { accuracy: ' ↑', logit_diff: ' ↑', answer_prob: ' ↑', answer_loss: ' ↓', perplexity: ' ↓', loss: ' ↓', prejudice_risk: ' ↓' };

/** `evaluate:compare`: one table per task, a row per metric (and condition), a column per run. */
const compareSection: ReportSection = {
  name: 'evaluate:compare',
  async add(view, report) {
    if (view.stageId !== 'evaluate:compare') return [];
    const output = view.output('comparison');
    if (output === undefined) return [];
    const { columns: c, numRows } = await readArrowTable(output.path, EvaluationComparisonTable);
    for (let i = 0; i < numRows; i++) {
      const task = c.task[i] as string;
      const metric = c.metric[i] as string;
      const condition = c.condition[i] as string;
      const table = `Evaluation (${view.step.id}): ${task}`;
      const row = `${metric}${ARROWS[metric] ?? ''}${condition === '' ? '' : ` · ${condition}`}`;
      const delta = c.delta[i];
      const reference = c.reference[i] as string;
      const value = c.value[i] as number;
      const shown = delta === null || delta === undefined || reference === c.run[i] ? formatValue(value) : `${formatValue(value)} (${delta >= 0 ? '+' : ''}${formatValue(delta)})`;
      report.fact(table, row, c.run[i] as string, shown, { rowLabel: 'metric' });
      if (reference !== '') report.note(table, `In parentheses: the difference from ${reference}. ↑: higher is better, ↓: lower is better.`);
    }
    // The Markdown and the chart hold what the table holds; the chart is drawn as a figure.
    return ['comparison', 'markdown', 'png'];
  },
};

/** `redundancy:curves`: N* and the redundancy ratio in edges and nodes, against random circuits. */
const redundancySection: ReportSection = {
  name: 'redundancy:curves',
  async add(view, report) {
    if (view.stageId !== 'redundancy:curves') return [];
    const output = view.output('summary');
    if (output === undefined) return [];
    const parsed = RedundancySummary.safeParse(await readJson(output.path));
    if (!parsed.success) return [];
    const s = parsed.data;
    const table = 'Node redundancy';
    for (const kind of ['edges', 'nodes'] as const) {
      const k = s[kind];
      const row = `${view.step.id} (${kind})`;
      report.fact(table, row, 'method', `${s.method}, ${s.ablation} ablation, ${s.examples} prompts`);
      report.fact(table, row, 'total', k.total);
      report.fact(table, row, `N* (τ = ${s.tau})`, k.nStar);
      report.fact(table, row, 'faithfulness at N*', k.atNStar?.faithfulness ?? null);
      report.fact(table, row, 'redundancy ratio 1 − N*/total', k.ratio);
      report.fact(table, row, 'CPR', k.cpr);
      report.fact(table, row, 'CMD', k.cmd);
      report.fact(table, row, 'random: N*', k.random.nStar);
      report.fact(table, row, 'random: CPR', k.random.cpr);
    }
    // The faithfulness curves of the discovery steps (drawn before) get this τ, as the redundancy figure has it.
    report.chartLine('faithfulness', { value: s.tau, label: `τ = ${s.tau}` });
    report.note(table, `N*: the smallest top-N circuit whose faithfulness reaches τ; random: the same for random circuits of the same sizes (seeds ${s.randomSeeds.join(', ')}). Nodes of the N* edge circuit: ${s.nStarNodes.join(', ') || 'none'}.`);
    report.note(table, `Total: edges of the graph (edges rows) or its heads and MLPs (nodes rows, the input and logits always kept). ${FAITHFULNESS_DEFINITIONS}`);
    return ['summary', 'curves', 'node_frequency', 'edges_png', 'nodes_png', 'frequency_png', 'circuit_png'];
  },
};

/** `evaluate:circuits`: how the circuit changed across the compared checkpoints. */
const circuitsSection: ReportSection = {
  name: 'evaluate:circuits',
  async add(view, report) {
    if (view.stageId !== 'evaluate:circuits') return [];
    const output = view.output('summary');
    if (output === undefined) return [];
    const s = await readJson(output.path);
    if (!isRecord(s) || !Array.isArray(s.checkpoints)) return [];
    const table = 'Circuits across checkpoints';
    const id = view.step.id;
    report.fact(table, id, 'checkpoints', s.checkpoints.map((c) => (isRecord(c) ? `${String(c.label)}: ${String(c.edges)} edges, ${String(c.nodes)} nodes` : '?')).join('; '));
    for (const element of ['nodes', 'edges'] as const) {
      const counts = s[element];
      if (!isRecord(counts)) continue;
      for (const status of ['shared', 'new', 'dropped']) report.fact(table, id, `${element} ${status}`, num(counts[status]));
    }
    const top = (key: string) => (Array.isArray(s[key]) ? (s[key] as unknown[]).slice(0, 3).map((e) => (isRecord(e) ? String(e.edge) : '?')).join(', ') : '');
    report.fact(table, id, 'strengthened most', top('strengthened') || '–');
    report.fact(table, id, 'weakened most', top('weakened') || '–');
    return ['summary', 'diff', 'trends', 'png'];
  },
};

/** `evaluate:logit-lens`: the mean logit difference and the heads that write most of it. */
const logitLensSection: ReportSection = {
  name: 'evaluate:logit-lens',
  async add(view, report) {
    if (view.stageId !== 'evaluate:logit-lens') return [];
    const output = view.output('summary');
    if (output === undefined) return [];
    const s = await readJson(output.path);
    if (!isRecord(s)) return [];
    const table = 'Logit lens (direct logit attribution to answer − foil)';
    const id = view.step.id;
    report.fact(table, id, 'prompts', num(s.prompts));
    report.fact(table, id, 'logit diff', num(s.logitDiff));
    const heads = Array.isArray(s.topHeads) ? s.topHeads.filter(isRecord).slice(0, 4) : [];
    report.fact(table, id, 'strongest heads (mean contribution)', heads.map((h) => `${String(h.node)} ${formatValue(num(h.mean))}`).join(', ') || '–');
    return ['summary', 'table', 'png'];
  },
};

/** The sections of the evaluation and redundancy stages, in the order the report shows them. */
export const evaluationSections: readonly ReportSection[] = [evaluateTasksSection, compareSection, redundancySection, circuitsSection, logitLensSection];
