import { ContractError, PromptsTable, validatePromptsTable } from '@circuit-tuning/contracts';
import { loadModel } from '@circuit-tuning/model';
import { defineStage, ensureBackend, readArrowTable, type StageContext, writeArrowTable, writeJsonAtomic } from '@circuit-tuning/runtime';
import { heatMapSvg, panelGridSvg, writeFigure } from '@circuit-tuning/viz';
import { z } from 'zod';
import { type LogitLens, logitLens, meanStd } from '../logit-lens';
import { LogitLensTable } from '../tables';
import { promptRowsOf } from '../task-metrics';

const inputs = {
  model: { kind: 'model-dir', description: 'the model to read' },
  prompts: { kind: 'arrow', schema: PromptsTable, description: 'prompts with answer and foil (e.g. agreement: the verb of the right and of the wrong number)' },
  before: {
    kind: 'arrow',
    schema: LogitLensTable,
    optional: true,
    description: 'the lens of the model before tuning (this stage on it): the figure then shows before, after and after − before, before and after on one scale',
  },
} as const;

const outputs = {
  table: { kind: 'arrow', schema: LogitLensTable, description: "every writer's mean direct logit attribution to logit(answer) − logit(foil), overall and per condition" },
  summary: { kind: 'json', description: 'mean logit difference, its reconstruction, the strongest heads (and, with `before`, the heads that changed most)' },
  svg: { kind: 'file', fileName: 'logit-lens.svg', optional: true, description: 'layer × head (and MLP) heat map of the mean attributions (with `before`: before, after, after − before)' },
  png: { kind: 'file', fileName: 'logit-lens.png', optional: true, description: 'the same as PNG' },
} as const;

export const LogitLensConfig = z.strictObject({
  /** Rows of this split of the prompts table. */
  split: z.string().default('test').describe('use the prompt rows of this split'),
  /** Only rows of this task. */
  task: z.string().optional().describe('use only the prompt rows of this task (all tasks when absent)'),
  /** At most this many prompt rows. */
  limit: z.number().int().positive().default(512).describe('use at most this many prompt rows'),
  /** Prompts per forward pass. */
  batchSize: z.number().int().positive().default(32).describe('prompts per forward pass'),
  /** Also per condition (e.g. singular and plural subjects), as rows and as heat maps beside the overall one. */
  byCondition: z.boolean().default(true).describe('also per condition (e.g. singular and plural subjects), as rows and as heat maps beside the overall one'),
  /** Heads listed in the summary. */
  top: z.number().int().positive().default(8).describe('heads listed in the summary'),
  draw: z
    .strictObject({
      svg: z.boolean().default(true).describe('write the heat maps as SVG'),
      png: z.boolean().default(true).describe('write the heat maps as PNG'),
    })
    .prefault({})
    .describe('which image files of the heat maps to write'),
});
export type LogitLensConfig = z.output<typeof LogitLensConfig>;

type LensContext = StageContext<LogitLensConfig, typeof inputs, typeof outputs>;

/**
 * `evaluate:logit-lens` — the logit lens of head outputs on the answer-minus-foil direction (direct
 * logit attribution through the final norm), as a layer × head heat map: the view the paper uses to
 * find the heads that carry subject number.
 */
export const evaluateLogitLensStage = defineStage({
  slot: 'evaluate',
  variant: 'logit-lens',
  // Version 2: titled as what it shows (direct logit attribution, not a share); `before` adds the after − before map.
  version: 2,
  description: 'Logit lens of every head and MLP on logit(answer) − logit(foil): a layer × head heat map.',
  config: LogitLensConfig,
  inputs,
  outputs,
  run: (ctx) => runLens(ctx as LensContext),
});

interface LensRow {
  node: string;
  kind: string;
  layer: number;
  head: number;
  condition: string;
  mean: number;
  std: number;
  n: number;
}

async function runLens(ctx: LensContext) {
  const { config } = ctx;
  const table = await readArrowTable(ctx.inputs.prompts, PromptsTable);
  const rows = promptRowsOf(table.columns, { split: config.split }).filter((r) => config.task === undefined || r.task === config.task).slice(0, config.limit);
  if (rows.length === 0) throw new ContractError(`${ctx.inputs.prompts}: no prompts in split '${config.split}'${config.task ? ` of task '${config.task}'` : ''}`);
  await ensureBackend();
  const model = await loadModel(ctx.inputs.model, { tokenizer: 'optional' });
  try {
    validatePromptsTable(table.columns, { source: ctx.inputs.prompts, limits: model.config });
    const lens = await logitLens(model, rows, { batchSize: config.batchSize, signal: ctx.signal });
    const conditions = config.byCondition ? [...new Set(rows.map((r) => r.condition))].filter((c) => c !== '').sort() : [];
    const groups: [string, number[] | undefined][] = [['', undefined], ...conditions.map((c) => [c, rows.flatMap((r, i) => (r.condition === c ? [i] : []))] as [string, number[]])];
    const out = groups.flatMap(([condition, indices]) => lensRows(lens, condition, indices));
    await writeArrowTable(
      ctx.output('table'),
      LogitLensTable,
      {
        node: out.map((r) => r.node),
        kind: out.map((r) => r.kind),
        layer: Int32Array.from(out, (r) => r.layer),
        head: Int32Array.from(out, (r) => r.head),
        condition: out.map((r) => r.condition),
        mean: out.map((r) => r.mean),
        std: out.map((r) => r.std),
        n: Int32Array.from(out, (r) => r.n),
      },
      { producer: ctx.producer, extra: { 'ct.evaluation.split': config.split } },
    );
    const overall = out.filter((r) => r.condition === '');
    const logitDiff = meanStd(lens.logitDiff).mean;
    const reconstructed = overall.reduce((s, r) => s + r.mean, 0);
    const heads = overall.filter((r) => r.kind === 'head').sort((a, b) => Math.abs(b.mean) - Math.abs(a.mean));
    const finite = (x: number) => (Number.isFinite(x) ? x : null);
    const before = ctx.inputs.before === undefined ? undefined : await readBefore(ctx.inputs.before, model.config);
    const overallBefore = before?.filter((r) => r.condition === '');
    const change = overallBefore === undefined ? undefined : changes(overall, overallBefore);
    await writeJsonAtomic(ctx.output('summary'), {
      prompts: rows.length,
      logitDiff: finite(logitDiff),
      reconstructed: finite(reconstructed),
      input: finite(overall.find((r) => r.kind === 'input')!.mean),
      bias: finite(overall.find((r) => r.kind === 'bias')!.mean),
      topHeads: heads.slice(0, config.top).map((r) => ({ node: r.node, mean: finite(r.mean), std: finite(r.std) })),
      byCondition: Object.fromEntries(groups.slice(1).map(([c, idx]) => [c, { prompts: idx!.length, logitDiff: finite(meanStd(lens.logitDiff, idx).mean) }])),
      ...(change === undefined
        ? {}
        : { changedHeads: change.filter((r) => r.kind === 'head').slice(0, config.top).map((r) => ({ node: r.node, before: finite(r.before), after: finite(r.after), change: finite(r.after - r.before) })) }),
    });
    if (config.draw.svg || config.draw.png) {
      const { nLayers, nHeads } = model.config;
      // One colour scale for every panel, so conditions compare by colour; set by the heads (the
      // view is for finding heads), so a larger MLP share saturates rather than washing them out.
      // Before and after share it, so their colours compare.
      const extent = (rows: readonly { kind: string; mean: number }[], kinds: string[]) =>
        rows.filter((r) => kinds.includes(r.kind)).reduce((m, r) => Math.max(m, Number.isFinite(r.mean) ? Math.abs(r.mean) : 0), 0);
      const shown = [...out, ...(before ?? [])];
      const bound = extent(shown, ['head']) || extent(shown, ['mlp']);
      const grid = (cells: readonly { kind: string; layer: number; head: number; mean: number }[]) => {
        const value = (layer: number, column: number) => cells.find((r) => r.layer === layer && (column === nHeads ? r.kind === 'mlp' : r.kind === 'head' && r.head === column))?.mean ?? Number.NaN;
        return Array.from({ length: nLayers * (nHeads + 1) }, (_, k) => value(Math.floor(k / (nHeads + 1)), k % (nHeads + 1)));
      };
      const map = (title: string, subtitle: string[], values: number[], domainBound: number, valueLabel: string) =>
        heatMapSvg({
          title,
          subtitle,
          rowLabels: Array.from({ length: nLayers }, (_, l) => `layer ${l}`),
          columnLabels: [...Array.from({ length: nHeads }, (_, h) => `h${h}`), 'mlp'],
          values,
          scale: 'diverging',
          domain: [-domainBound, domainBound],
          rowAxisLabel: 'layer',
          columnAxisLabel: 'head',
          valueLabel,
        });
      const scaleNote = 'colour scale set by the heads; MLP cells may saturate';
      const maps = groups.map(([condition, indices]) => {
        const n = indices?.length ?? rows.length;
        return map(
          condition === '' ? `Logit lens${before ? ' after' : ''}: direct logit attribution to logit(answer) − logit(foil)` : `condition: ${condition}`,
          [`${n} prompts · mean logit diff ${meanStd(lens.logitDiff, indices).mean.toFixed(3)} = Σ cells + input + biases`, scaleNote],
          grid(out.filter((r) => r.condition === condition)),
          bound,
          'mean direct logit attribution',
        );
      });
      if (overallBefore !== undefined && change !== undefined) {
        const before = map('Before tuning (the `before` input), on the same scale', [`${overallBefore.find((r) => r.kind === 'input')?.n ?? '?'} prompts`, scaleNote], grid(overallBefore), bound, 'mean direct logit attribution');
        const delta = change.map((r) => ({ ...r, mean: r.after - r.before }));
        const deltaBound = extent(delta, ['head']) || extent(delta, ['mlp']);
        const after = map('After − before: what tuning changed', ['per head and MLP: attribution after minus before', 'its own colour scale, symmetric about 0'], grid(delta), deltaBound, 'change in direct logit attribution');
        maps.unshift(before);
        maps.splice(2, 0, after);
      }
      const figure = maps.length === 1 ? maps[0]! : panelGridSvg(maps, { columns: Math.min(3, maps.length) });
      await writeFigure(figure, { svg: config.draw.svg ? ctx.output('svg') : undefined, png: config.draw.png ? ctx.output('png') : undefined }, { logger: ctx.logger });
    }
    return { summary: { prompts: rows.length, logitDiff: finite(logitDiff), topHead: heads[0]?.node ?? null } };
  } finally {
    model.dispose();
  }
}

function lensRows(lens: LogitLens, condition: string, indices: number[] | undefined): LensRow[] {
  const row = (node: string, kind: string, layer: number, head: number, values: ArrayLike<number>): LensRow => ({ node, kind, layer, head, condition, ...meanStd(values, indices) });
  const out: LensRow[] = [row('input', 'input', -1, -1, lens.input)];
  lens.heads.forEach((heads, layer) => {
    heads.forEach((values, head) => {
      out.push(row(`a${layer}.h${head}`, 'head', layer, head, values));
    });
    out.push(row(`m${layer}`, 'mlp', layer, -1, lens.mlps[layer]!));
  });
  out.push(row('bias', 'bias', -1, -1, lens.bias));
  return out;
}

/** The `before` lens, checked to be of a model with the same layers and heads. */
async function readBefore(path: string, shape: { nLayers: number; nHeads: number }): Promise<LensRow[]> {
  const { columns: c, numRows } = await readArrowTable(path, LogitLensTable);
  const rows: LensRow[] = Array.from({ length: numRows }, (_, i) => ({
    node: c.node[i] as string,
    kind: c.kind[i] as string,
    layer: c.layer[i] as number,
    head: c.head[i] as number,
    condition: c.condition[i] as string,
    mean: c.mean[i] as number,
    std: c.std[i] as number,
    n: c.n[i] as number,
  }));
  const layers = Math.max(-1, ...rows.map((r) => r.layer)) + 1;
  const heads = Math.max(-1, ...rows.map((r) => r.head)) + 1;
  if (layers !== shape.nLayers || heads !== shape.nHeads) {
    throw new ContractError(`${path}: the \`before\` lens has ${layers} layers × ${heads} heads, but the model has ${shape.nLayers} × ${shape.nHeads}`, {
      hint: 'wire the lens of the same model before tuning',
    });
  }
  return rows;
}

/** Every writer's attribution before and after, largest change first. */
function changes(after: readonly LensRow[], before: readonly LensRow[]): (LensRow & { before: number; after: number })[] {
  const then = new Map(before.map((r) => [r.node, r.mean]));
  return after
    .map((r) => ({ ...r, before: then.get(r.node) ?? Number.NaN, after: r.mean }))
    .sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before) || a.node.localeCompare(b.node));
}
