import { ConfigError, type ModelGraph, RuntimeError } from '@circuit-tuning/contracts';
import { batchPrompts, type PromptExample, scoreEdges, selectCircuit, topNSchedule } from '@circuit-tuning/discovery';
import type { TransformerModel, WriterOutputs } from '@circuit-tuning/model';
import { createRng, tf } from '@circuit-tuning/runtime';
import type { TokenBatch } from '../data/batches';
import { NonFiniteModelError, type PlanState, type StepPlan } from '../loop/train-loop';
import type { CircuitTuningConfig } from './circuit-config';
import { CircuitParameterMap, circuitMasks } from './masks';
import { drawRandomExtra } from './random-extra';

/** Where each step's circuit comes from: discovered on the step's prompts, random, or fixed once. */
export type CircuitSource = 'discover' | 'random' | 'fixed';

export interface CircuitLogEntry {
  step: number;
  edge: string;
  score: number;
  rank: number;
}

/** A circuit as the planner keeps it between steps (and in checkpoints): its kept edges, not the whole graph. */
interface FoundCircuit {
  /** The step it was found at. */
  step: number;
  /** The metric on the clean prompts at discovery. */
  metric: number;
  /** Kept edges (graph edge indices, ascending), each with its selection score and rank. */
  edges: number[];
  scores: number[];
  ranks: number[];
  /** Whether any of its nodes owns a parameter slice (a head or an MLP, not only input/logits). */
  ownsParameters: boolean;
}

/** What the planner carries from step to step; saved in every checkpoint. */
interface PlannerState {
  found: FoundCircuit | undefined;
  /** The last circuit that owned parameters (the emptyCircuit 'keep-previous' policy trains it). */
  lastNonEmpty: FoundCircuit | undefined;
}

/** What a step whose circuit owns no parameters did (the ct.train.log `empty_circuit` column). */
export type EmptyCircuitAction = 'skipped' | 'kept-previous';

export interface CircuitPlannerHooks {
  /** Receives the circuit every `circuitLogEvery` steps (one entry per kept edge). */
  onRecord?: (entries: CircuitLogEntry[]) => void;
  /** Told of every step whose circuit owns no parameters, and what the policy did. */
  onEmpty?: (step: number, action: EmptyCircuitAction, found: { step: number; edges: number }) => void;
  /**
   * Told, the first time it happens in a run, that the random-activation control found fewer
   * parameters outside the circuit than randomExtra.ratio asks for (it then trains all of them).
   */
  onRandomExtraShort?: (step: number, wanted: number, got: number) => void;
}

/**
 * Plans circuit-tuning steps (docs/method.md §4): find the circuit (every `every` steps), map its
 * nodes to exact parameter slices, and train only those — with the full forward pass
 * (gradient-mask) or the circuit's own (edge-ablated). A circuit that owns no parameters is
 * handled by the `emptyCircuit` policy. `save`/`restore` carry the circuit across a resume: a
 * step between rediscoveries trains the circuit found at the last rediscovery, not a new one.
 */
export class CircuitPlanner implements PlanState {
  private readonly graph: ModelGraph;
  private readonly edgeNames: string[];
  /** Circuit edges → the parameter slices of their nodes (train:circuit-lora adapts exactly these). */
  readonly parameterMap: CircuitParameterMap;
  private readonly topN: (step: number) => number;
  private readonly frozenGroups: string[];
  private found: FoundCircuit | undefined;
  private lastNonEmpty: FoundCircuit | undefined;
  private toldRandomExtraShort = false;

  constructor(
    private readonly model: TransformerModel,
    private readonly config: CircuitTuningConfig,
    private readonly prompts: readonly PromptExample[],
    private readonly source: CircuitSource,
    private readonly seed: number,
    private readonly hooks: CircuitPlannerHooks = {},
  ) {
    const { mlp, mlpHeadWidth } = config.parameterMapping;
    const { on, metric, ablation } = config.discovery;
    if (on === 'batch' && source !== 'random' && (metric !== 'neg-loss' || (ablation !== 'mean' && ablation !== 'zero'))) {
      throw new ConfigError(
        `discovery.on 'batch' scores the training tokens themselves: it needs metric 'neg-loss' (got '${metric}') and ablation 'mean' or 'zero' (got '${ablation}')`,
        { hint: "a training row has no foil token and no corrupted twin: set discovery.metric: neg-loss and discovery.ablation: mean" },
      );
    }
    if (mlp === 'heads' && model.config.dMlp % mlpHeadWidth !== 0) {
      throw new ConfigError(`parameterMapping.mlpHeadWidth ${mlpHeadWidth} does not divide the model's ${model.config.dMlp} MLP neurons`, {
        hint: `choose a width that divides ${model.config.dMlp} (the reference code uses 64)`,
      });
    }
    // With MLP heads the circuit is found on, and maps through, the graph whose MLPs are split.
    this.graph = model.graph({
      includeInputAndLogits: config.discovery.graph === 'full',
      kvReaders: config.discovery.kvReaders,
      ...(mlp === 'heads' ? { mlpHeadWidth } : {}),
    });
    if (config.randomExtra && config.mode === 'edge-ablated') {
      // Nodes outside the circuit are mean-ablated in its forward pass: extra ones would get no gradient as writers.
      throw new ConfigError('randomExtra trains nodes outside the circuit, which edge-ablated mode ablates', { hint: 'use mode: gradient-mask with randomExtra' });
    }
    this.edgeNames = this.graph.edgeNames();
    this.parameterMap = new CircuitParameterMap(model.config, this.graph, config.parameterMapping);
    const { start, end, steps, kind } = config.topN;
    this.topN = end === undefined ? () => start : topNSchedule({ start, end, steps: steps ?? config.steps, kind });
    // Embeddings, norms and the unembedding stay frozen unless the config says otherwise.
    this.frozenGroups = model.params.names().filter((name) => {
      if (name.startsWith('embed.') || name.startsWith('pos_embed.') || name.startsWith('unembed.')) return config.trainEmbeddings;
      if (/\.ln\d\.|^ln_final\./.test(name)) return config.trainNorms;
      return false;
    });
  }

  /** Edges of the graph circuits are found on (a top-N above it keeps every edge). */
  get edgeCount(): number {
    return this.graph.edgeCount;
  }

  save(): PlannerState {
    return { found: this.found, lastNonEmpty: this.lastNonEmpty };
  }

  restore(state: unknown): void {
    const saved = state as PlannerState;
    this.found = saved.found;
    this.lastNonEmpty = saved.lastNonEmpty;
  }

  async plan(batch: TokenBatch, step: number): Promise<StepPlan> {
    const { trained, log } = await this.circuitAt(step, batch);
    // A skipped step measures the loss of the plain forward and updates nothing.
    if (!trained) return { trainable: [], trainableCount: 0, log };
    const circuit = this.parameterMap.slicesOf(trained);
    // The random-activation control: random nodes outside the circuit train too (counted in trainable_parameters; circuit_nodes stays the circuit's).
    const { randomExtra } = this.config;
    let slices = circuit;
    if (randomExtra) {
      const draw = drawRandomExtra(this.model.params, this.parameterMap, { edges: trained, slices: circuit }, { ...randomExtra, seed: this.seed, step });
      const wanted = randomExtra.ratio * draw.circuitCount;
      if (draw.extraCount < wanted && !this.toldRandomExtraShort) {
        this.toldRandomExtraShort = true;
        this.hooks.onRandomExtraShort?.(step, Math.round(wanted), draw.extraCount);
      }
      slices = draw.slices;
    }
    const { masks, count } = circuitMasks(this.model, slices);
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
      log: { ...log, circuit_nodes: circuit.nodes },
    };
    if (this.config.mode === 'edge-ablated') {
      // Ablation values come from a separate, untaped forward pass: no gradient flows into them.
      const ablated = meanWriters(this.model, batch, this.graph.shape.mlpHeads);
      plan.dispose!.push(ablated.input, ...ablated.heads, ...ablated.mlps, ...(ablated.mlpHeads ?? []));
      const graph = this.graph;
      const keep = new Float32Array(graph.edgeCount);
      for (const e of trained) keep[e] = 1;
      plan.loss = (ids, weights, objective) => objective(this.model.forward(ids, { circuit: { graph, keep, ablated } }).logits, ids, weights);
    }
    return plan;
  }

  /**
   * The circuit step `step` trains (its edges, or undefined when an empty circuit's step is skipped)
   * and its log columns: rediscovered every `every` steps, the emptyCircuit policy applied, recorded
   * every `circuitLogEvery` steps. plan() maps it to masks; train:circuit-lora to adapters.
   */
  async circuitAt(step: number, batch: TokenBatch): Promise<{ trained: readonly number[] | undefined; log: StepPlan['log'] & { circuit_edges: number } }> {
    const rediscover = !this.found || (this.source !== 'fixed' && step % this.config.every === 0);
    if (rediscover) {
      this.found = await this.findCircuit(step, batch);
      if (this.found.ownsParameters) this.lastNonEmpty = this.found;
    }
    const found = this.found!;
    let trained: FoundCircuit | undefined = found;
    let empty: EmptyCircuitAction | null = null;
    if (!found.ownsParameters) {
      const policy = this.config.emptyCircuit;
      if (policy === 'error') {
        throw new RuntimeError(
          `step ${step}: the circuit found at step ${found.step} owns no parameters (${found.edges.length} edges, top-N ${this.topN(found.step)}), so the step would train nothing`,
          { hint: "raise topN, score more positions (discovery.positions: 'all'), or set emptyCircuit to 'skip-step' or 'keep-previous'" },
        );
      }
      trained = policy === 'keep-previous' ? this.lastNonEmpty : undefined;
      empty = trained ? 'kept-previous' : 'skipped';
      this.hooks.onEmpty?.(step, empty, { step: found.step, edges: found.edges.length });
    }
    if (trained && step % this.config.circuitLogEvery === 0) this.record(step, trained);
    const log = { circuit_edges: (trained ?? found).edges.length, circuit_nodes: 0, metric: found.metric, empty_circuit: empty };
    return { trained: trained?.edges, log };
  }

  private async findCircuit(step: number, batch: TokenBatch): Promise<FoundCircuit> {
    const n = Math.min(this.topN(step), this.graph.edgeCount);
    const { discovery } = this.config;
    let chosen: PromptExample[];
    if (discovery.on === 'batch') {
      chosen = batchTargetPrompts(batch);
    } else {
      const rng = createRng(this.seed).fork(`discovery-${step}`);
      const count = Math.min(this.prompts.length, this.source === 'fixed' ? discovery.prompts * 4 : discovery.prompts);
      chosen = rng.shuffle(this.prompts.map((_, i) => i)).slice(0, count).map((i) => this.prompts[i]!);
    }
    const method = this.source === 'random' ? 'random' : discovery.method;
    const needsCorrupt = discovery.ablation === 'corrupted' && method !== 'random';
    // One padded batch: the step's prompts in one pass (split only by memory), whatever their lengths.
    const scores = await scoreEdges(this.model, batchPrompts(chosen, chosen.length, { withCorrupt: needsCorrupt, pad: true }), {
      method,
      graph: this.graph,
      metric: discovery.metric,
      ablation: discovery.ablation,
      positions: discovery.positions,
      steps: discovery.steps,
      seed: this.seed + step,
      ...(discovery.memoryBudgetMB === undefined ? {} : { memoryBudgetBytes: discovery.memoryBudgetMB * 1e6 }),
    });
    // The random baseline measures nothing on the model (its metric is NaN by design); its
    // divergence shows in the loss.
    const nonFinite = scores.scores.reduce((count, s) => count + (Number.isFinite(s) ? 0 : 1), 0);
    if (method !== 'random' && (!Number.isFinite(scores.metricClean) || nonFinite > 0)) {
      throw new NonFiniteModelError(
        `the circuit found at step ${step} has a ${discovery.metric} of ${scores.metricClean} and ${nonFinite} of ${scores.scores.length} edge scores that are not finite`,
      );
    }
    // A random baseline keeps its N edges as drawn: pruning dangling edges from a random set
    // leaves almost nothing (few random edges chain from the input to the logits), so the
    // baseline would train nothing instead of a circuit of the same size.
    const prune = method !== 'random';
    const circuit = selectCircuit(this.graph, scores.scores, { mode: 'top-n', n, topNodes: discovery.topNodes, prune });
    const edges: number[] = [];
    for (let e = 0; e < circuit.keep.length; e++) if (circuit.keep[e]! > 0) edges.push(e);
    return {
      ownsParameters: this.parameterMap.ownsParameters(edges),
      step,
      metric: scores.metricClean,
      edges,
      scores: edges.map((e) => circuit.selectionScores[e]!),
      ranks: edges.map((e) => circuit.rank[e]!),
    };
  }

  private record(step: number, circuit: FoundCircuit): void {
    this.hooks.onRecord?.(circuit.edges.map((e, i) => ({ step, edge: this.edgeNames[e]!, score: circuit.scores[i]!, rank: circuit.ranks[i]! })));
  }
}

/**
 * The training batch as discovery prompts (discovery.on 'batch', the reference code's mode): one
 * prompt per row, the row up to its target position, scored on the row's next token there (the
 * answer; there is no foil, so the metric is neg-loss). A row's target position is where its loss
 * weight is highest (a target token's, when the run weights targets), the last such position when
 * several tie (with uniform weights, the row's last predicting position). Rows with no
 * predicting position are left out.
 */
export function batchTargetPrompts(batch: TokenBatch): PromptExample[] {
  const prompts: PromptExample[] = [];
  for (let row = 0; row < batch.batch; row++) {
    const offset = row * batch.seq;
    let target = -1;
    let highest = 0;
    for (let t = 0; t + 1 < batch.seq; t++) {
      const w = batch.weights[offset + t]!;
      if (w > 0 && w >= highest) {
        highest = w;
        target = t;
      }
    }
    if (target < 0) continue;
    const answer = batch.ids[offset + target + 1]!;
    prompts.push({ id: row, clean: Array.from(batch.ids.subarray(offset, offset + target + 1)), corrupt: undefined, pos: target, answer, foil: answer });
  }
  if (prompts.length === 0) throw new RuntimeError('discovery.on batch: the training batch has no position with a loss weight, so there is nothing to score');
  return prompts;
}

/**
 * Mean of every writer's output over the batch's real tokens: the ablation of edge-ablated
 * training. Padding after a text's end is no token of it and stays out of the mean (it used to be
 * averaged in). A position is real when it predicts (its loss weight is non-zero) or follows one
 * that does (a text's last token); packed batches have no padding. With `mlpHeads` (a graph whose
 * MLPs are split into heads) each MLP head's output gets its own mean too.
 */
export function meanWriters(model: TransformerModel, batch: TokenBatch, mlpHeads?: number): WriterOutputs {
  const real = Float32Array.from(batch.weights, (w, i) => (w > 0 || (i % batch.seq > 0 && batch.weights[i - 1]! > 0) ? 1 : 0));
  const count = real.reduce((a, b) => a + b, 0);
  return tf.tidy(() => {
    const ids = tf.tensor2d(batch.ids, [batch.batch, batch.seq], 'int32');
    const w = model.forward(ids, { captureWriters: true, ...(mlpHeads === undefined ? {} : { mlpHeads }) }).writers!;
    const mask2 = tf.tensor2d(real, [real.length, 1]); // [tokens, 1]
    const mask3 = tf.reshape(mask2, [1, real.length, 1]);
    const mean = <T extends tf.Tensor>(t: T, mask: tf.Tensor, axis: number): T => tf.div(tf.sum(tf.mul(t, mask), axis, true), Math.max(count, 1)) as T;
    return {
      input: mean(w.input, mask2, 0), // [1, dModel]
      heads: w.heads.map((h) => mean(h, mask3, 1)), // [nHeads, 1, dModel]
      mlps: w.mlps.map((m) => mean(m, mask2, 0)), // [1, dModel]
      ...(w.mlpHeads ? { mlpHeads: w.mlpHeads.map((h) => mean(h, mask3, 1)) } : {}), // [K, 1, dModel]
    };
  });
}
