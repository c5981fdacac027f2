/**
 * `report:html`: the run's report, made from a run index (every step the pipeline collected for
 * it) by reading their artifacts. A self-contained HTML page (comparison tables, curves, circuit
 * drawings with scores on hover, each step's config and output hashes) and the same as Markdown
 * with the figures as SVG files beside it. The same artifacts give the same bytes, so a resumed
 * run's report equals an uninterrupted one's.
 */
import { dirname, join, relative } from 'node:path';
import { defineStage, writeFileAtomic } from '@circuit-tuning/runtime';
import { z } from 'zod';
import { RunIndex, readRunIndex } from '@circuit-tuning/runtime';
import { PALETTE } from '@circuit-tuning/viz';
import { chartSvg, renderHtml, renderMarkdown } from './render';
import { evaluationSections } from './evaluation-sections';
import { headlineSection } from './headline';
import { buildReportModel, builtinSections, type StepView } from './sections';

/** Every section of the report, in the order they add to it (the headline joins the others' facts last). */
const SECTIONS = [...builtinSections, ...evaluationSections, headlineSection];

/** Charts that are also written as SVG files (for the Markdown), by chart id → output port. */
const FIGURE_PORTS = {
  'train-loss': 'figure_loss',
  'eval-loss': 'figure_eval_loss',
  faithfulness: 'figure_faithfulness',
} as const;

const figure = (fileName: string, description: string) => ({ kind: 'file', fileName, optional: true, description }) as const;

export const ReportConfig = z.strictObject({
  /** The page title; defaults to "Report: <pipeline name>". */
  title: z.string().optional().describe('the page title (default: "Report: <pipeline name>")'),
});

export const reportStage = defineStage({
  slot: 'report',
  variant: 'html',
  // Version 3: circuit variants' steps with an empty circuit in the training table.
  // Version 4: charts by viz's one line chart; the verdict; the best value of each ↑/↓ column marked.
  version: 4,
  description: 'A self-contained HTML report (and Markdown) of a run: comparison tables, curves, circuit drawings, configs and output hashes.',
  config: ReportConfig,
  inputs: {
    run: { kind: 'json', schema: RunIndex, description: 'the steps to report (a run index; a pipeline collects every earlier step when left unwired)' },
  },
  outputs: {
    html: { kind: 'file', fileName: 'report.html', description: 'the report as one HTML page (inline CSS and SVG)' },
    markdown: { kind: 'file', fileName: 'report.md', description: 'the report as Markdown' },
    figure_loss: figure('training-loss.svg', 'training loss of every training step'),
    figure_eval_loss: figure('eval-loss.svg', 'evaluation loss of every training step'),
    figure_faithfulness: figure('faithfulness.svg', 'faithfulness curves of every discovery step'),
  },
  async run(ctx) {
    const loaded = await readRunIndex(ctx.inputs.run);
    const { index } = loaded;
    const views: StepView[] = index.steps.map((step) => {
      const outputs = step.outputs.map((record) => ({ record, path: loaded.pathOf(record) }));
      return {
        step,
        stageId: `${step.stage.slot}:${step.stage.variant}`,
        output: (port) => outputs.find((o) => o.record.port === port),
        outputsWithSchema: (schema) => outputs.filter((o) => o.record.schema === schema),
        pathOf: (record) => loaded.pathOf(record),
      };
    });
    const model = await buildReportModel(views, SECTIONS);
    ctx.signal.throwIfAborted();
    const stepIds = index.steps.map((s) => s.id);
    const colourOf = (name: string, i: number) => PALETTE[(stepIds.includes(name) ? stepIds.indexOf(name) : i) % PALETTE.length] as string;
    const figureFiles = new Map<string, string>();
    for (const [chartId, port] of Object.entries(FIGURE_PORTS)) {
      const chart = model.charts.get(chartId);
      if (chart === undefined) continue;
      const path = ctx.output(port);
      await writeFileAtomic(path, chartSvg(chart, colourOf));
      figureFiles.set(chartId, relative(dirname(ctx.output('markdown')), path));
    }
    const render = {
      title: ctx.config.title ?? `Report: ${index.pipeline}`,
      index,
      model,
      figureFiles,
      linkFromMarkdown: (path: string) => relative(dirname(ctx.output('markdown')), join(loaded.runDir, path)),
      producer: ctx.producer,
      colourOf,
    };
    await writeFileAtomic(ctx.output('html'), renderHtml(render));
    await writeFileAtomic(ctx.output('markdown'), renderMarkdown(render));
    ctx.logger.info(`wrote ${ctx.output('html')}`);
    return {
      summary: {
        steps: index.steps.length,
        comparisons: model.comparisons.size,
        charts: model.charts.size,
        circuits: model.circuits.length,
      },
    };
  },
});
