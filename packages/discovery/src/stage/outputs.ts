import type { TransformerModel } from '@circuit-tuning/model';
import { type StageLogger, writeArrowTable, writeFileAtomic, writeJsonAtomic } from '@circuit-tuning/runtime';
import { z } from 'zod';
import type { DiscoveryConfig } from '../config';
import type { DiscoveryResult } from '../discover-circuit';
import { circuitSvg, svgToPng } from '@circuit-tuning/viz';
import { toEapIgJson } from '../io/eap-ig-json';
import { edgeColumns, nodeColumns } from '../io/tables';
import { DiscoveryEdgesTable, DiscoveryNodesTable, FaithfulnessCurveTable } from '../tables';

/** `summary.json` of a discovery run: what was run and how faithful the circuit is. */
export const DiscoverySummary = z.strictObject({
  method: z.string(),
  metric: z.string(),
  ablation: z.string(),
  positions: z.string(),
  graph: z.enum(['full', 'reference']),
  steps: z.number().int(),
  examples: z.number().int(),
  edgesTotal: z.number().int(),
  metricClean: z.number().nullable(),
  metricFull: z.number(),
  metricEmpty: z.number(),
  circuit: z.strictObject({
    selected: z.number().int(),
    edges: z.number().int(),
    nodes: z.number().int(),
    metric: z.number(),
    faithfulness: z.number().nullable(),
  }),
  // cpr/cmd over the share of edges in each circuit after pruning (MIB's definition); the nominal
  // pair over the requested fractions, as MIB's released code integrates (docs/method.md §2.6).
  // Summaries of stage version ≤ 4 have no nominal pair.
  curve: z
    .strictObject({
      cpr: z.number().nullable(),
      cmd: z.number().nullable(),
      cprNominal: z.number().nullable().optional(),
      cmdNominal: z.number().nullable().optional(),
      average: z.number().nullable(),
      points: z.number().int(),
    })
    .nullable(),
});
export type DiscoverySummary = z.infer<typeof DiscoverySummary>;

/** JSON has no NaN: undefined measures (a full model equal to the empty circuit) become null. */
const finite = (x: number) => (Number.isFinite(x) ? x : null);

export function summarize(result: DiscoveryResult, config: DiscoveryConfig): DiscoverySummary {
  const { scores, circuit, evaluation, curve } = result;
  return {
    method: scores.method,
    metric: scores.metric,
    ablation: scores.ablation,
    positions: scores.positions,
    graph: config.graph,
    steps: scores.steps,
    examples: scores.examples,
    edgesTotal: scores.graph.edgeCount,
    metricClean: finite(scores.metricClean),
    metricFull: evaluation.metricFull,
    metricEmpty: evaluation.metricEmpty,
    circuit: {
      selected: circuit.selected,
      edges: circuit.edges,
      nodes: circuit.nodes.length,
      metric: evaluation.metricCircuit,
      faithfulness: finite(evaluation.faithfulness),
    },
    curve: curve
      ? {
          cpr: finite(curve.cpr),
          cmd: finite(curve.cmd),
          cprNominal: finite(curve.cprNominal),
          cmdNominal: finite(curve.cmdNominal),
          average: finite(curve.average),
          points: curve.points.length,
        }
      : null,
  };
}

export interface OutputPaths {
  edges: string;
  nodes: string;
  summary: string;
  circuit: string;
  curve?: string | undefined;
  svg?: string | undefined;
  png?: string | undefined;
}

/** Writes every output of a discovery run; tables carry the run's settings in their metadata. */
export async function writeDiscoveryOutputs(
  model: TransformerModel,
  result: DiscoveryResult,
  config: DiscoveryConfig,
  paths: OutputPaths,
  meta: { producer: string; logger?: StageLogger },
): Promise<DiscoverySummary> {
  const { scores, circuit, curve } = result;
  const graph = scores.graph;
  const extra = {
    'ct.discovery.method': scores.method,
    'ct.discovery.metric': scores.metric,
    'ct.discovery.ablation': scores.ablation,
    'ct.discovery.positions': scores.positions,
    'ct.discovery.graph': config.graph,
    'ct.discovery.model': `${model.config.architecture} ${model.config.nLayers}x${model.config.nHeads} d${model.config.dModel}`,
  };
  await writeArrowTable(paths.edges, DiscoveryEdgesTable, edgeColumns(graph, scores.scores, circuit), { producer: meta.producer, extra });
  await writeArrowTable(paths.nodes, DiscoveryNodesTable, nodeColumns(graph, scores.scores, circuit), { producer: meta.producer, extra });
  if (curve && paths.curve) {
    const p = curve.points;
    await writeArrowTable(
      paths.curve,
      FaithfulnessCurveTable,
      {
        fraction: p.map((x) => x.fraction),
        edges_requested: Int32Array.from(p, (x) => x.requested),
        edges: Int32Array.from(p, (x) => x.edges),
        nodes: Int32Array.from(p, (x) => x.nodes),
        metric: p.map((x) => x.metric),
        faithfulness: p.map((x) => x.faithfulness),
      },
      {
        producer: meta.producer,
        extra: {
          ...extra,
          'ct.discovery.cpr': String(curve.cpr),
          'ct.discovery.cmd': String(curve.cmd),
          'ct.discovery.cpr-nominal': String(curve.cprNominal),
          'ct.discovery.cmd-nominal': String(curve.cmdNominal),
        },
      },
    );
  }
  await writeJsonAtomic(paths.circuit, toEapIgJson(graph, scores.scores, circuit, { dModel: model.config.dModel, nodeFormat: config.eapIgNodeFormat }));
  const summary = summarize(result, config);
  await writeJsonAtomic(paths.summary, summary);

  if (paths.svg || paths.png) {
    const f = summary.circuit.faithfulness;
    const svg = circuitSvg(graph, scores.scores, circuit, {
      title: `${scores.method} circuit: ${circuit.edges} edges, ${circuit.nodes.length} nodes`,
      subtitle: [
        `metric ${scores.metric} · ablation ${scores.ablation} · positions ${scores.positions} · ${scores.examples} prompts`,
        `faithfulness ${f === null ? 'n/a' : f.toFixed(3)}${curve ? ` · CPR ${curve.cpr.toFixed(3)} · CMD ${curve.cmd.toFixed(3)}` : ''}`,
      ],
      maxEdges: config.draw.maxEdges,
    });
    if (paths.svg) await writeFileAtomic(paths.svg, svg);
    if (paths.png) {
      try {
        await writeFileAtomic(paths.png, await svgToPng(svg));
      } catch (error) {
        // The PNG is optional: a platform without resvg's binary still gets the SVG.
        meta.logger?.warn(`no PNG drawing: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  return summary;
}
