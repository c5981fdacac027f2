import { ContractError } from '@circuit-tuning/contracts';
import { createRng, tf } from '@circuit-tuning/runtime';
import type { ModelConfig } from '../config/model-config';
import { type ParameterSpec, parameterSpecs } from './parameter-names';
import { releaseTransposedUnembeddings } from './unembed';

/**
 * The model's weights: one tf.Variable per canonical name. Owns its variables; dispose() frees
 * them. Variables are trainable so that tf.variableGrads and optimizers see them; which ones a
 * training run updates is decided by the training package, not here.
 */
export class ModelParameters {
  readonly specs: readonly ParameterSpec[];
  private readonly variables: Map<string, tf.Variable>;

  constructor(config: ModelConfig, values: Map<string, tf.Tensor>, options: { check?: boolean } = {}) {
    this.specs = parameterSpecs(config);
    this.variables = new Map();
    for (const spec of this.specs) {
      const value = values.get(spec.name);
      if (!value) throw new ContractError(`parameter ${spec.name} is missing`);
      if (options.check !== false && !sameShape(value.shape, spec.shape)) {
        throw new ContractError(`parameter ${spec.name} has shape [${value.shape}] but the config needs [${spec.shape}]`);
      }
      this.variables.set(spec.name, tf.variable(value, true, uniqueVariableName(spec.name)));
    }
  }

  get(name: string): tf.Variable {
    const variable = this.variables.get(name);
    if (!variable) throw new ContractError(`no parameter named ${name}`, { hint: `known: ${[...this.variables.keys()].slice(0, 6).join(', ')}, …` });
    return variable;
  }

  has(name: string): boolean {
    return this.variables.has(name);
  }

  names(): string[] {
    return [...this.variables.keys()];
  }

  entries(): [string, tf.Variable][] {
    return [...this.variables.entries()];
  }

  /** Total number of scalar parameters. */
  count(): number {
    let total = 0;
    for (const v of this.variables.values()) total += v.size;
    return total;
  }

  /** Replaces every value (shapes must match); used by checkpoint loading and by tests. */
  assign(values: Map<string, tf.Tensor>): void {
    for (const [name, value] of values) {
      const variable = this.get(name);
      if (!sameShape(variable.shape, value.shape)) {
        throw new ContractError(`cannot assign [${value.shape}] to parameter ${name} of shape [${variable.shape}]`);
      }
      variable.assign(value);
    }
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
    releaseTransposedUnembeddings();
  }
}

let variableCounter = 0;
// tf.variable names must be unique per engine; two models may be alive at once.
const uniqueVariableName = (name: string): string => `${name}#${variableCounter++}`;

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * GPT-2's initialisation (normal σ = 0.02, residual projections scaled by 1/√(2·nLayers),
 * norms at 1, biases at 0), seeded so that a model built twice is identical on every backend.
 */
export function initialParameters(config: ModelConfig, seed: number): Map<string, tf.Tensor> {
  const values = new Map<string, tf.Tensor>();
  const rng = createRng(seed);
  for (const spec of parameterSpecs(config)) {
    let value: tf.Tensor;
    if (spec.role === 'norm-weight') value = tf.ones(spec.shape);
    else if (spec.role === 'norm-bias' || spec.role === 'bias') value = tf.zeros(spec.shape);
    else {
      const residualProjection = spec.name.endsWith('attn.W_O') || spec.name.endsWith('mlp.W_out');
      const std = residualProjection ? 0.02 / Math.sqrt(2 * config.nLayers) : 0.02;
      // One named stream per parameter: adding a parameter does not change the others.
      const stream = rng.fork(spec.name);
      const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) data[i] = stream.normal(0, std);
      value = tf.tensor(data, spec.shape);
    }
    values.set(spec.name, value);
  }
  return values;
}
