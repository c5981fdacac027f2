/**
 * One circuit-tuning step against one full fine-tuning step on a GPT-2-small-shaped model (issue
 * #5's bench; run by `train-step.bench.ts --compare`, each variant in a process of its own: the
 * wasm heap never shrinks, and one process holding both variants' Adam state hangs at its 4 GB).
 * Both steps train on the same batch with Adam; the circuit-tuning step first discovers the circuit (EAP, corrupted ablation, logit
 * difference, `prompts` prompts of `promptTokens` tokens: the stage's defaults) and selects the
 * top-N edges with CircuitPlanner, exactly as the stage does, then updates only the circuit's
 * parameter slices (gradient-mask mode).
 *
 * A 16 × 64 batch of GPT-2 small does not fit wasm's 4 GB heap in one pass next to Adam's moments
 * (1 GB) and the gradients (0.5 GB), so both steps run it as micro-batches of `micro` rows whose
 * gradients are summed before the update: the same work per token, the same for both variants.
 */
import type { PromptExample } from '@circuit-tuning/discovery';
import { gpt2Config, TransformerModel } from '@circuit-tuning/model';
import { createRng, tf } from '@circuit-tuning/runtime';
import { CircuitPlanner, CircuitTuningConfig, createOptimizer, nextTokenLoss, type StepPlan, type TokenBatch } from '../src/index';

export interface CompareOptions {
  layers: number;
  batch: number;
  seq: number;
  micro: number;
  topN: number;
  prompts: number;
  promptTokens: number;
  steps: number;
  /** The model's width (default GPT-2 small's: 12 heads, d 768, vocab 50257); gpu-check.bench.ts runs a small one on software adapters. */
  heads?: number;
  d?: number;
  vocab?: number;
}

interface Timed {
  ms: number;
  discoveryMs: number;
}

export type StepVariant = 'full' | 'circuit-tuning';

/** The median step of one variant, and what it trained. */
export interface StepMeasurement extends Timed {
  variant: StepVariant;
  trainable: number;
  parameters: number;
  circuitEdges?: number;
  circuitNodes?: number;
  heapMb: number;
}

/** Times `o.steps` steps (after one warm-up) of one variant, in this process. */
export async function measureStep(o: CompareOptions, variant: StepVariant, say: (line: string) => void): Promise<StepMeasurement> {
  const config = gpt2Config({ nLayers: o.layers, nHeads: o.heads ?? 12, dModel: o.d ?? 768, vocabSize: o.vocab ?? 50257, maxPositions: 1024 });
  const model = await TransformerModel.random(config, 1);
  const rng = createRng(2);
  const batch: TokenBatch = {
    ids: Int32Array.from({ length: o.batch * o.seq }, () => rng.nextInt(config.vocabSize)),
    weights: new Float32Array(o.batch * o.seq).fill(1),
    batch: o.batch,
    seq: o.seq,
  };
  const prompts: PromptExample[] = Array.from({ length: o.prompts * 4 }, (_, id) => {
    const clean = Array.from({ length: o.promptTokens }, () => rng.nextInt(config.vocabSize));
    // An unrelated corrupted prompt: with random weights, a one-token corruption scores the input's
    // edges so low that pruning (edges must reach the input and the logits) leaves no circuit.
    const corrupt = Array.from({ length: o.promptTokens }, () => rng.nextInt(config.vocabSize));
    return { id, clean, corrupt, pos: o.promptTokens - 1, answer: rng.nextInt(config.vocabSize), foil: rng.nextInt(config.vocabSize) };
  });
  const ctConfig = CircuitTuningConfig.parse({ topN: { start: o.topN }, discovery: { prompts: o.prompts } });
  const planner = new CircuitPlanner(model, ctConfig, prompts, 'discover', 1);
  const optimizer = createOptimizer({ kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  const fullPlan: StepPlan = { trainable: model.params.names().map((name) => ({ name })) };

  /** One optimizer step on `plan`, its gradients summed over micro-batches. */
  const update = async (plan: StepPlan): Promise<void> => {
    const variables = plan.trainable.map((t) => model.params.get(t.name));
    let sums: tf.Tensor[] | undefined;
    for (let row = 0; row < o.batch; row += o.micro) {
      const rows = Math.min(o.micro, o.batch - row);
      const ids = tf.tensor2d(batch.ids.subarray(row * o.seq, (row + rows) * o.seq), [rows, o.seq], 'int32');
      const weights = tf.tensor2d(batch.weights.subarray(row * o.seq, (row + rows) * o.seq), [rows, o.seq]);
      const { value, grads } = tf.variableGrads(() => nextTokenLoss(model.logits(ids), ids, weights), variables);
      await value.data();
      const list = variables.map((v) => grads[v.name]!);
      if (sums === undefined) sums = list;
      else {
        // One parameter at a time, so the heap holds at most one extra parameter-sized sum (the
        // 4 GB wasm heap already holds the weights, Adam's two moments and the gradients).
        sums = sums.map((s, i) => {
          const next = tf.add(s, list[i]!);
          tf.dispose([s, list[i]!]);
          return next;
        });
      }
      tf.dispose([ids, weights, value]);
    }
    optimizer.apply(
      plan.trainable.map((t, i) => ({ name: t.name, variable: variables[i]!, grad: sums![i]!, ...(t.mask ? { mask: t.mask } : {}) })),
      1e-5,
    );
    tf.dispose([...(sums ?? []), ...(plan.dispose ?? [])]);
  };

  const fullStep = async (): Promise<Timed> => {
    const t0 = performance.now();
    await update(fullPlan);
    return { ms: performance.now() - t0, discoveryMs: 0 };
  };
  let step = 0;
  const circuitStep = async (): Promise<Timed> => {
    const t0 = performance.now();
    const plan = await planner.plan(batch, step++);
    const discoveryMs = performance.now() - t0;
    await update(plan);
    return { ms: performance.now() - t0, discoveryMs };
  };

  const heapMb = () => ((tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length ?? 0) / 2 ** 20;
  const run = async (label: string, f: () => Promise<Timed>) => {
    const warm = await f();
    say(`  ${label}: warm-up ${(warm.ms / 1000).toFixed(1)} s`);
    const times: Timed[] = [];
    for (let i = 0; i < o.steps; i++) {
      times.push(await f());
      say(`  ${label}: step ${i + 1} ${(times.at(-1)!.ms / 1000).toFixed(1)} s (discovery ${(times.at(-1)!.discoveryMs / 1000).toFixed(1)} s)`);
    }
    times.sort((a, b) => a.ms - b.ms);
    return times[Math.floor(times.length / 2)]!;
  };
  const median = variant === 'full' ? await run('full', fullStep) : await run('circuit-tuning', circuitStep);
  const plan = variant === 'full' ? fullPlan : await planner.plan(batch, step);
  const measurement: StepMeasurement = {
    variant,
    ...median,
    trainable: plan.trainableCount ?? model.params.count(),
    parameters: model.params.count(),
    heapMb: heapMb(),
    ...(plan.log ? { circuitEdges: Number(plan.log['circuit_edges']), circuitNodes: Number(plan.log['circuit_nodes']) } : {}),
  };
  if (plan !== fullPlan) tf.dispose(plan.dispose ?? []);
  optimizer.dispose();
  model.dispose();
  return measurement;
}

/** The comparison table of the two variants' median steps. */
export function compareTable(o: CompareOptions, full: StepMeasurement, circuit: StepMeasurement, say: (line: string) => void): void {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  say(`circuit-tuning step vs full fine-tuning step: GPT-2 small shape (${o.layers} layers, d 768, vocab 50257), batch ${o.batch} × ${o.seq} in micro-batches of ${o.micro} rows, Adam`);
  say(`  circuit-tuning: EAP (corrupted, logit-diff) on ${o.prompts} prompts × ${o.promptTokens} tokens, top-${o.topN} edges, gradient-mask`);
  say('');
  say('| step | median s | discovery s | update s | × full | peak wasm heap MB |');
  say('| --- | --- | --- | --- | --- | --- |');
  say(`| full fine-tuning | ${s(full.ms)} | — | ${s(full.ms)} | 1.00 | ${full.heapMb.toFixed(0)} |`);
  say(`| circuit-tuning | ${s(circuit.ms)} | ${s(circuit.discoveryMs)} | ${s(circuit.ms - circuit.discoveryMs)} | ${(circuit.ms / full.ms).toFixed(2)} | ${circuit.heapMb.toFixed(0)} |`);
  say(`circuit: ${circuit.circuitEdges} edges, ${circuit.circuitNodes} nodes, ${circuit.trainable} trainable of ${circuit.parameters} parameters`);
  say(`ratio ${(circuit.ms / full.ms).toFixed(2)} (goal ≤ 1.5): ${circuit.ms / full.ms <= 1.5 ? 'met' : 'NOT met'}`);
}
