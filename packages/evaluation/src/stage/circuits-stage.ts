import { buildGraph, CircuitLogTable, ConfigError, ContractError, edgeNamesShape, type ModelGraph, ParameterMappingConfig, parseEdgeName } from '@circuit-tuning/contracts';
import { DiscoveryEdgesTable } from '@circuit-tuning/discovery';
import { readModelConfig } from '@circuit-tuning/model';
import { defineStage, readArrowTable, type StageContext, type StageLogger, writeArrowTable, writeJsonAtomic } from '@circuit-tuning/runtime';
import { circuitSvg, panelGridSvg, writeFigure } from '@circuit-tuning/viz';
import { z } from 'zod';
import {
  type CircuitCheckpoint,
  checkpointArrays,
  checkpointFromEdges,
  checkpointFromLog,
  chooseSteps,
  circuitMembership,
  edgeTrends,
} from '../circuit-diff';
import { CircuitDiffTable, EdgeTrendTable } from '../tables';

const edges = (description: string) => ({ kind: 'arrow', schema: DiscoveryEdgesTable, optional: true, description }) as const;

const inputs = {
  circuit_log: { kind: 'arrow', schema: CircuitLogTable, optional: true, description: "a circuit-tuning run's circuit log (the circuit every few steps)" },
  edges_before: edges("a discovery run's edges table on the model before tuning"),
  edges_during: edges('the same on an intermediate checkpoint'),
  edges_after: edges('the same on the tuned model'),
  model: { kind: 'model-dir', optional: true, description: 'the model (only its config.json is read: layers and heads)' },
} as const;

const outputs = {
  svg: { kind: 'file', fileName: 'circuits.svg', optional: true, description: 'the circuits drawn side by side' },
  png: { kind: 'file', fileName: 'circuits.png', optional: true, description: 'the same as PNG' },
  diff: { kind: 'arrow', schema: CircuitDiffTable, description: 'nodes and edges: shared, new, dropped, per checkpoint' },
  trends: { kind: 'arrow', schema: EdgeTrendTable, description: 'edges that strengthen or weaken from the first checkpoint to the last' },
  summary: { kind: 'json', description: 'counts of shared/new/dropped nodes and edges, the strongest changes' },
} as const;

export const CompareCircuitsConfig = z.strictObject({
  /** 'auto': the edges tables when any is wired, else the circuit log. */
  source: z
    .enum(['auto', 'circuit-log', 'edges'])
    .default('auto')
    .describe("where the circuits come from: 'circuit-log', 'edges' (the edges tables), or 'auto': the edges tables when any is wired, else the circuit log"),
  /** Logged steps to compare (default: the first, the middle and the last). */
  steps: z.array(z.number().int().nonnegative()).min(1).optional().describe('logged steps to compare (default: the first, the middle and the last)'),
  /** Graph shape when no model is wired (else read from the edge names). */
  nLayers: z.number().int().positive().optional().describe('layers of the graph when no model is wired (else read from the edge names)'),
  nHeads: z.number().int().positive().optional().describe('heads per layer of the graph when no model is wired (else read from the edge names)'),
  /** 'auto': the full graph when an edge names the input or the logits. */
  graph: z
    .enum(['auto', 'full', 'reference'])
    .default('auto')
    .describe("the graph the circuits live on; 'auto': the full graph when an edge names the input or the logits, else the reference one"),
  /**
   * Neurons per MLP head, when the circuits were found on a graph of MLP heads (edges naming
   * `m2.n4`, circuit-tuning's parameterMapping mlp 'heads'): the training's setting, one source.
   */
  mlpHeadWidth: ParameterMappingConfig.shape.mlpHeadWidth.describe(
    "neurons per MLP head, when the circuits were found on a graph of MLP heads (circuit-tuning's parameterMapping mlp 'heads'): the training's setting",
  ),
  /** A change of |score| within this share of the larger |score| is 'stable'. */
  tolerance: z.number().min(0).default(0.1).describe("a change of |score| within this share of the larger |score| is 'stable'"),
  /** Edges drawn per circuit (the best-ranked). */
  maxEdges: z.number().int().positive().default(200).describe('edges drawn per circuit (the best-ranked)'),
  /** Changes listed in the summary, each way. */
  top: z.number().int().positive().default(10).describe('changes listed in the summary, each way'),
  draw: z
    .strictObject({
      svg: z.boolean().default(true).describe('write the circuit drawings as SVG'),
      png: z.boolean().default(true).describe('write the circuit drawings as PNG'),
    })
    .prefault({})
    .describe('which image files of the circuit drawings to write'),
});
export type CompareCircuitsConfig = z.output<typeof CompareCircuitsConfig>;

type CircuitsContext = StageContext<CompareCircuitsConfig, typeof inputs, typeof outputs>;

/**
 * `evaluate:circuits` — the circuit before, during and after tuning, drawn side by side (each node
 * at the same place in every drawing); which nodes and edges are shared, new or dropped; which
 * edges strengthen or weaken. From a circuit-tuning run's circuit log (its logged steps) or from
 * discovery runs on the checkpoints (their edges tables).
 */
export const evaluateCircuitsStage = defineStage({
  slot: 'evaluate',
  variant: 'circuits',
  // Version 2: circuits drawn by viz's one drawer, new and dropped edges against the panel before marked.
  version: 2,
  description: 'Circuits across checkpoints side by side: shared/new/dropped nodes and edges, edges that strengthen or weaken.',
  config: CompareCircuitsConfig,
  inputs,
  outputs,
  run: (ctx) => runCircuits(ctx as CircuitsContext),
});

async function runCircuits(ctx: CircuitsContext) {
  const { config } = ctx;
  const edgePorts = (['edges_before', 'edges_during', 'edges_after'] as const).filter((port) => ctx.inputs[port] !== undefined);
  const source = config.source === 'auto' ? (edgePorts.length > 0 ? 'edges' : 'circuit-log') : config.source;
  const checkpoints: CircuitCheckpoint[] = [];
  if (source === 'edges') {
    if (edgePorts.length === 0) throw new ConfigError("source 'edges' needs at least one of edges_before, edges_during, edges_after");
    for (const port of edgePorts) {
      const table = await readArrowTable(ctx.inputs[port]!, DiscoveryEdgesTable);
      checkpoints.push(checkpointFromEdges(table.columns, port.replace('edges_', '')));
    }
  } else {
    if (ctx.inputs.circuit_log === undefined) throw new ConfigError("source 'circuit-log' needs the circuit_log input", { hint: 'wire a circuit log, or edges tables with source: edges' });
    const log = (await readArrowTable(ctx.inputs.circuit_log, CircuitLogTable)).columns;
    for (const step of chooseSteps(Array.from(log.step), config.steps)) checkpoints.push(checkpointFromLog(log, step));
  }
  const names = checkpoints.flatMap((c) => [...c.edges, ...c.scores.keys()]);
  const graph = await graphFor(ctx, names, ctx.logger);

  const membership = circuitMembership(checkpoints);
  const trends = edgeTrends(checkpoints, { tolerance: config.tolerance });
  await writeArrowTable(
    ctx.output('diff'),
    CircuitDiffTable,
    {
      element: membership.map((r) => r.element),
      name: membership.map((r) => r.name),
      status: membership.map((r) => r.status),
      presence: membership.map((r) => r.presence),
      checkpoints: Int32Array.from(membership, (r) => r.checkpoints),
    },
    { producer: ctx.producer, extra: { 'ct.evaluation.checkpoints': checkpoints.map((c) => c.label).join(',') } },
  );
  await writeArrowTable(
    ctx.output('trends'),
    EdgeTrendTable,
    {
      edge: trends.map((t) => t.edge),
      score_first: trends.map((t) => t.scoreFirst),
      score_last: trends.map((t) => t.scoreLast),
      delta: trends.map((t) => t.delta),
      slope: trends.map((t) => t.slope),
      present: Int32Array.from(trends, (t) => t.present),
      trend: trends.map((t) => t.trend),
    },
    { producer: ctx.producer, extra: { 'ct.evaluation.checkpoints': checkpoints.map((c) => c.label).join(',') } },
  );
  const count = (element: 'node' | 'edge') =>
    Object.fromEntries((['shared', 'new', 'dropped', 'transient'] as const).map((status) => [status, membership.filter((r) => r.element === element && r.status === status).length]));
  const arrays = checkpoints.map((c) => checkpointArrays(graph, c));
  const changes = (trend: 'strengthened' | 'weakened') => trends.filter((t) => t.trend === trend).slice(0, config.top).map((t) => ({ edge: t.edge, first: t.scoreFirst, last: t.scoreLast, delta: t.delta }));
  const summary = {
    source,
    checkpoints: checkpoints.map((c, i) => ({ label: c.label, edges: c.edges.size, nodes: arrays[i]!.nodes.length })),
    nodes: count('node'),
    edges: count('edge'),
    strengthened: changes('strengthened'),
    weakened: changes('weakened'),
  };
  await writeJsonAtomic(ctx.output('summary'), summary);

  if (config.draw.svg || config.draw.png) {
    const panels = checkpoints.map((c, i) => {
      const previous = checkpoints[i - 1];
      const added = previous ? [...c.edges].filter((e) => !previous.edges.has(e)).length : 0;
      const dropped = previous ? [...previous.edges].filter((e) => !c.edges.has(e)).length : 0;
      const a = arrays[i]!;
      return circuitSvg(graph, a.scores, a, {
        // New edges (since the panel before) are drawn with a halo, dropped ones as grey dashes.
        ...(i === 0 ? {} : { previous: arrays[i - 1]! }),
        title: `${c.label}: ${c.edges.size} edges, ${a.nodes.length} nodes`,
        subtitle: previous ? [`vs ${previous.label}: +${added} new, ${dropped} dropped edges`] : [source === 'edges' ? 'discovery on this checkpoint' : 'circuit of this training step'],
        maxEdges: config.maxEdges,
      });
    });
    const figure = panelGridSvg(panels, {
      title: `Circuits across checkpoints: ${summary.nodes.shared} shared, ${summary.nodes.new} new, ${summary.nodes.dropped} dropped nodes · ${trends.filter((t) => t.trend === 'strengthened').length} edges strengthen, ${trends.filter((t) => t.trend === 'weakened').length} weaken`,
      columns: Math.min(4, panels.length),
    });
    await writeFigure(figure, { svg: config.draw.svg ? ctx.output('svg') : undefined, png: config.draw.png ? ctx.output('png') : undefined }, { logger: ctx.logger });
  }
  return { summary: { checkpoints: summary.checkpoints.length, sharedNodes: summary.nodes.shared, newNodes: summary.nodes.new, droppedNodes: summary.nodes.dropped } };
}

/** The graph the circuits live on: its shape from the model, the config, or (failing both) the edge names. */
async function graphFor(ctx: CircuitsContext, edgeNames: readonly string[], logger: StageLogger): Promise<ModelGraph> {
  const { config } = ctx;
  let shape: { nLayers: number; nHeads: number; mlpHeads?: number; kvGroups?: number };
  const named = edgeNamesShape(edgeNames);
  const lastMlpHead = named.mlpHeads - 1; // -1: whole MLPs
  // Circuits on a graph with k/v readers per kv group (a3.g1<k>) have the model's kv groups, or
  // at least as many as the names show.
  const kvGroups = (n: number | undefined) => (named.kvGroups > 0 ? { kvGroups: n ?? named.kvGroups } : {});
  if (ctx.inputs.model) {
    const model = await readModelConfig(ctx.inputs.model);
    if (named.kvGroups > model.nKvHeads) throw new ConfigError(`the circuits name kv group ${named.kvGroups - 1}, and the model has ${model.nKvHeads} k/v heads per layer`);
    shape = { nLayers: model.nLayers, nHeads: model.nHeads, ...kvGroups(model.nKvHeads) };
    if (lastMlpHead >= 0) {
      if (model.dMlp % config.mlpHeadWidth !== 0 || lastMlpHead >= model.dMlp / config.mlpHeadWidth) {
        throw new ConfigError(`the circuits name MLP head ${lastMlpHead}, which MLPs of ${model.dMlp} neurons in heads of mlpHeadWidth ${config.mlpHeadWidth} do not have`, {
          hint: 'set mlpHeadWidth to the training step\'s parameterMapping.mlpHeadWidth',
        });
      }
      shape.mlpHeads = model.dMlp / config.mlpHeadWidth;
    }
  } else if (config.nLayers !== undefined && config.nHeads !== undefined) {
    shape = { nLayers: config.nLayers, nHeads: config.nHeads, ...(lastMlpHead >= 0 ? { mlpHeads: lastMlpHead + 1 } : {}), ...kvGroups(undefined) };
  } else {
    const invalid = edgeNames.find((edge) => parseEdgeName(edge) === undefined);
    if (invalid !== undefined) throw new ContractError(`'${invalid}' is not an edge name`, { hint: "edges are named like 'a0.h1->a2.h3<q>'" });
    const { layers, heads } = named;
    if (layers === 0 || heads === 0) throw new ConfigError('cannot tell the graph shape from the edges', { hint: 'wire the model, or set nLayers and nHeads' });
    shape = { nLayers: layers, nHeads: heads, ...(lastMlpHead >= 0 ? { mlpHeads: lastMlpHead + 1 } : {}), ...kvGroups(undefined) };
    logger.info(`graph shape read from the edge names: ${layers} layers × ${heads} heads`, { hint: 'wire the model to be sure' });
  }
  const full = config.graph === 'auto' ? edgeNames.some((e) => e.startsWith('input->') || e.endsWith('->logits')) : config.graph === 'full';
  return buildGraph(shape, { includeInputAndLogits: full });
}
