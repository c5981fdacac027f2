import { ConfigError } from '@circuit-tuning/contracts';
import type { ParameterSource, TransformerModel } from '@circuit-tuning/model';
import { createRng, matMul, tf } from '@circuit-tuning/runtime';
import { z } from 'zod';

export const LORA_TARGETS = ['W_Q', 'W_K', 'W_V', 'W_O', 'W_in', 'W_gate', 'W_out'] as const;

export const LoraConfig = z.strictObject({
  /** Rank r of each adapter A·B. */
  rank: z.number().int().positive().default(8).describe('rank r of each adapter A·B'),
  /** Scale α: the update is (α / rank) · A·B. */
  alpha: z.number().positive().default(16).describe('scale α: the update is (α / rank) · A·B'),
  /** Which matrices of every layer get an adapter (canonical short names). */
  targets: z
    .array(z.enum(LORA_TARGETS))
    .nonempty()
    .default(['W_Q', 'W_K', 'W_V', 'W_O', 'W_in', 'W_out'])
    .describe('which matrices of every layer get an adapter (canonical short names)'),
});
export type LoraConfig = z.output<typeof LoraConfig>;

/**
 * Low-rank adapters (Hu et al. 2021, "LoRA"): each target W [in, out] is read as W + (α/r)·A·B
 * with A [in, r] random and B [r, out] zero, so training starts from the base model exactly.
 * Only A and B train; merge() folds them into the base weights for a plain checkpoint.
 */
export class LoraAdapters implements ParameterSource {
  readonly scale: number;
  /** Adapter variables by name (`<param>.lora_A`, `<param>.lora_B`). */
  readonly variables = new Map<string, tf.Variable>();
  private readonly targets = new Set<string>();

  constructor(
    private readonly model: TransformerModel,
    config: LoraConfig,
    seed: number,
  ) {
    this.scale = config.alpha / config.rank;
    const rng = createRng(seed).fork('lora');
    for (const [name, variable] of model.params.entries()) {
      const short = name.split('.').at(-1) as (typeof LORA_TARGETS)[number];
      if (!config.targets.includes(short) || !name.startsWith('blocks.')) continue;
      const [inDim, outDim] = variable.shape as [number, number];
      if (config.rank > Math.min(inDim, outDim)) throw new ConfigError(`LoRA rank ${config.rank} exceeds the smaller side of ${name} [${variable.shape}]`);
      // Kaiming-uniform-like scale for A, as the reference implementation; B starts at zero.
      const bound = 1 / Math.sqrt(inDim);
      const stream = rng.fork(name);
      const a = Float32Array.from({ length: inDim * config.rank }, () => (stream.next() * 2 - 1) * bound);
      this.variables.set(`${name}.lora_A`, tf.variable(tf.tensor2d(a, [inDim, config.rank]), true));
      this.variables.set(`${name}.lora_B`, tf.variable(tf.zeros([config.rank, outDim]), true));
      this.targets.add(name);
    }
    if (this.targets.size === 0) throw new ConfigError(`no LoRA targets matched: ${config.targets.join(', ')}`);
  }

  has(name: string): boolean {
    return this.model.params.has(name);
  }

  get(name: string): tf.Tensor {
    const base = this.model.params.get(name);
    if (!this.targets.has(name)) return base;
    return tf.add(base, tf.mul(matMul(this.variables.get(`${name}.lora_A`)!, this.variables.get(`${name}.lora_B`)! as tf.Tensor2D), this.scale));
  }

  /** Number of trainable adapter entries. */
  count(): number {
    let total = 0;
    for (const v of this.variables.values()) total += v.size;
    return total;
  }

  /** Folds every adapter into its base weight (W ← W + (α/r)·A·B). */
  merge(): void {
    foldIntoModel(this.model, this, this.targets);
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}

/**
 * Writes what an adapter source reads for each named parameter (base plus its adapters) into the
 * model's own weights, one parameter at a time, so the model loads anywhere without adapter code.
 */
export function foldIntoModel(model: TransformerModel, source: ParameterSource, names: Iterable<string>): void {
  for (const name of names) {
    const merged = tf.tidy(() => source.get(name));
    model.params.get(name).assign(merged);
    merged.dispose();
  }
}
