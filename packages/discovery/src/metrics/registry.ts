import { ConfigError } from '@circuit-tuning/contracts';
import { tf } from '@circuit-tuning/runtime';

/** What a metric sees: the logits at each row's prediction position and the row's tokens. */
export interface MetricInputs {
  /** [batch, vocab]: logits at the prediction position. */
  logits: tf.Tensor2D;
  /** [batch, vocab]: one-hot of the answer token. */
  answer: tf.Tensor2D;
  /** [batch, vocab]: one-hot of the foil token. */
  foil: tf.Tensor2D;
  /** [batch, vocab]: log-probabilities of the clean model there (a constant); given when `needsReference`. */
  reference?: tf.Tensor2D;
}

/**
 * A task metric M on the logits (docs/method.md §2.1). `perExample` is differentiable; discovery sums it
 * over rows for the backward pass and averages it over examples for reports. Selections on tokens
 * are one-hot multiplies, not gathers: tf.gather's gradient has no wasm kernel.
 */
export interface MetricDefinition {
  readonly name: string;
  readonly description: string;
  /** Whether a higher value means the model does the task better (faithfulness works either way). */
  readonly higherIsBetter: boolean;
  /** The metric compares with the clean model's distribution (KL): the caller supplies `reference`. */
  readonly needsReference: boolean;
  /** [batch] values; the caller owns the result. */
  perExample(inputs: MetricInputs): tf.Tensor1D;
}

const registry = new Map<string, MetricDefinition>();

/** Adds a metric under its name; the names are what configs write (`metric: 'logit-diff'`). */
export function registerMetric(metric: MetricDefinition): void {
  const existing = registry.get(metric.name);
  if (existing !== undefined && existing !== metric) throw new ConfigError(`metric '${metric.name}' is already registered`);
  registry.set(metric.name, metric);
}

export function hasMetric(name: string): boolean {
  return registry.has(name);
}

export function metricNames(): string[] {
  return [...registry.keys()].sort();
}

export function getMetric(name: string): MetricDefinition {
  const metric = registry.get(name);
  if (metric === undefined) throw new ConfigError(`unknown metric '${name}'`, { hint: `valid metrics: ${metricNames().join(', ')}` });
  return metric;
}

/** Σ_v x[b, v] · oneHot[b, v] → [batch]. */
const pick = (x: tf.Tensor2D, oneHot: tf.Tensor2D) => tf.sum(tf.mul(x, oneHot), 1) as tf.Tensor1D;

/** Logit difference answer − foil (the paper's and EAP's default). */
export const logitDiff: MetricDefinition = {
  name: 'logit-diff',
  description: 'logit(answer) − logit(foil) at the prediction position',
  higherIsBetter: true,
  needsReference: false,
  perExample: ({ logits, answer, foil }) => tf.tidy(() => pick(logits, tf.sub(answer, foil) as tf.Tensor2D)),
};

/** Probability difference p(answer) − p(foil). */
export const probDiff: MetricDefinition = {
  name: 'prob-diff',
  description: 'p(answer) − p(foil) at the prediction position',
  higherIsBetter: true,
  needsReference: false,
  perExample: ({ logits, answer, foil }) => tf.tidy(() => pick(tf.softmax(logits) as tf.Tensor2D, tf.sub(answer, foil) as tf.Tensor2D)),
};

/** Negative LM loss of the answer: log p(answer). */
export const negLoss: MetricDefinition = {
  name: 'neg-loss',
  description: 'log p(answer) at the prediction position (the negative LM loss of the answer token)',
  higherIsBetter: true,
  needsReference: false,
  perExample: ({ logits, answer }) => tf.tidy(() => pick(tf.logSoftmax(logits) as tf.Tensor2D, answer)),
};

/**
 * KL(p_clean ‖ p) at the prediction position, as EAP-IG's `kl_div` (0 on the clean model, lower is
 * closer). Its gradient vanishes at the clean run, so plain EAP scores are ~0 with it: use EAP-IG.
 */
export const klToClean: MetricDefinition = {
  name: 'kl',
  description: 'KL divergence from the clean distribution to the model’s, at the prediction position',
  higherIsBetter: false,
  needsReference: true,
  perExample: ({ logits, reference }) =>
    tf.tidy(() => {
      if (reference === undefined) throw new ConfigError("metric 'kl' needs the clean distribution as reference");
      const logP = tf.logSoftmax(logits);
      return tf.sum(tf.mul(tf.exp(reference), tf.sub(reference, logP)), 1) as tf.Tensor1D;
    }),
};

for (const metric of [logitDiff, probDiff, negLoss, klToClean]) registerMetric(metric);
