import type { ModelGraph } from '@circuit-tuning/contracts';
import { batchPrompts, type Circuit, type PromptExample, scoreEdges, selectCircuit, topNSchedule } from '@circuit-tuning/discovery';
import type { TransformerModel, WriterOutputs } from '@circuit-tuning/model';
import { createRng, tf } from '@circuit-tuning/runtime';
import type { TokenBatch } from '../data/batches';
import type { StepPlan } from '../loop/train-loop';
import type { CircuitTuningConfig } from './circuit-config';
import { circuitMasks, parameterOwners } from './masks';

/** Where each step's circuit comes from: discovered on the step's prompts, random, or fixed once. */
export type CircuitSource = 'discover' | 'random' | 'fixed';

export interface CircuitLogEntry {
  step: number;
  edge: string;
  score: number;
  rank: number;
}

/**
 * Plans circuit-tuning steps (method.md §4): find the circuit (every `every` steps), map its
 * nodes to exact parameter slices, and train only those — with the full forward pass
 * (gradient-mask) or the circuit's own (edge-ablated).
 */
export class CircuitPlanner {
  private readonly graph: ModelGraph;
  private readonly topN: (step: number) => number;
  private current: { circuit: Circuit; metric: number; step: number } | undefined;
  private readonly frozenGroups: string[];

  constructor(
    private readonly model: TransformerModel,
    private readonly config: CircuitTuningConfig,
    private readonly prompts: readonly PromptExample[],
    private readonly source: CircuitSource,
    private readonly seed: number,
    /** Receives the circuit every `circuitLogEvery` steps (one entry per kept edge). */
    private readonly onRecord: (entries: CircuitLogEntry[]) => void = () => undefined,
  ) {
    this.graph = model.graph({ includeInputAndLogits: config.discovery.graph === 'full' });
    const { start, end, steps, kind } = config.topN;
    this.topN = end === undefined ? () => start : topNSchedule({ start, end, steps: steps ?? config.steps, kind });
    // Embeddings, norms and the unembedding stay frozen unless the config says otherwise.
    this.frozenGroups = model.params.names().filter((name) => {
      if (name.startsWith('embed.') || name.startsWith('pos_embed.') || name.startsWith('unembed.')) return config.trainEmbeddings;
      if (/\.ln\d\.|^ln_final\./.test(name)) return config.trainNorms;
      return false;
    });
  }

  async plan(batch: TokenBatch, step: number): Promise<StepPlan> {
    const rediscover = !this.current || (this.source !== 'fixed' && step % this.config.every === 0);
    if (rediscover) this.current = { ...(await this.findCircuit(step)), step };
    const { circuit, metric } = this.current!;
    if (step % this.config.circuitLogEvery === 0) this.record(step, circuit);
    const keptEdges = this.keptEdgeNames(circuit);
    const { masks, count, nodes } = circuitMasks(this.model, parameterOwners(keptEdges));
    const trainable = [...masks].map(([name, mask]) => ({ name, ...(mask ? { mask } : {}) }));
    let extra = 0;
    for (const name of this.frozenGroups) {
      trainable.push({ name });
      extra += this.model.params.get(name).size;
    }
    const plan: StepPlan = {
      trainable,
      trainableCount: count + extra,
      dispose: [...masks.values()].filter((m): m is tf.Tensor => m !== undefined),
      log: { circuit_edges: circuit.edges, circuit_nodes: nodes, metric },
    };
    if (this.config.mode === 'edge-ablated') {
      // Ablation values come from a separate, untaped forward pass: no gradient flows into them.
      const ablated = meanWriters(this.model, batch);
      plan.dispose!.push(ablated.input, ...ablated.heads, ...ablated.mlps);
      const graph = this.graph;
      const keep = circuit.keep;
      plan.loss = (ids, weights, objective) => objective(this.model.forward(ids, { circuit: { graph, keep, ablated } }).logits, ids, weights);
    }
    return plan;
  }

  private async findCircuit(step: number): Promise<{ circuit: Circuit; metric: number }> {
    const n = Math.min(this.topN(step), this.graph.edgeCount);
    const rng = createRng(this.seed).fork(`discovery-${step}`);
    const count = Math.min(this.prompts.length, this.source === 'fixed' ? this.config.discovery.prompts * 4 : this.config.discovery.prompts);
    const chosen = rng.shuffle(this.prompts.map((_, i) => i)).slice(0, count).map((i) => this.prompts[i]!);
    const { discovery } = this.config;
    const method = this.source === 'random' ? 'random' : discovery.method;
    const needsCorrupt = discovery.ablation === 'corrupted' && method !== 'random';
    const scores = await scoreEdges(this.model, batchPrompts(chosen, chosen.length, { withCorrupt: needsCorrupt }), {
      method,
      graph: this.graph,
      metric: discovery.metric,
      ablation: discovery.ablation,
      positions: discovery.positions,
      steps: discovery.steps,
      seed: this.seed + step,
    });
    // A random baseline keeps its N edges as drawn: pruning dangling edges from a random set
    // leaves almost nothing (few random edges chain from the input to the logits), so the
    // baseline would train nothing instead of a circuit of the same size.
    const prune = method !== 'random';
    const circuit = selectCircuit(this.graph, scores.scores, { mode: 'top-n', n, topNodes: discovery.topNodes, prune });
    return { circuit, metric: scores.metricClean };
  }

  private keptEdgeNames(circuit: Circuit): string[] {
    const names = this.graph.edgeNames();
    return names.filter((_, e) => circuit.keep[e]! > 0);
  }

  private record(step: number, circuit: Circuit): void {
    const names = this.graph.edgeNames();
    const entries: CircuitLogEntry[] = [];
    for (let e = 0; e < names.length; e++) {
      if (circuit.keep[e]! > 0) entries.push({ step, edge: names[e]!, score: circuit.selectionScores[e]!, rank: circuit.rank[e]! });
    }
    this.onRecord(entries);
  }
}

/** Mean of every writer's output over the batch and positions: the ablation of edge-ablated training. */
function meanWriters(model: TransformerModel, batch: TokenBatch): WriterOutputs {
  return tf.tidy(() => {
    const ids = tf.tensor2d(batch.ids, [batch.batch, batch.seq], 'int32');
    const w = model.forward(ids, { captureWriters: true }).writers!;
    return {
      input: tf.mean(w.input, 0, true) as tf.Tensor2D, // [1, dModel]
      heads: w.heads.map((h) => tf.mean(h, 1, true) as tf.Tensor3D), // [nHeads, 1, dModel]
      mlps: w.mlps.map((m) => tf.mean(m, 0, true) as tf.Tensor2D), // [1, dModel]
    };
  });
}
