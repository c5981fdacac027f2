import { ContractError } from '@circuit-tuning/contracts';
import { disposeWriters, type TransformerModel, type WriterOutputs } from '@circuit-tuning/model';
import { tf } from '@circuit-tuning/runtime';
import { isPadded, type PromptBatch, type PromptSet, splitBatch } from '../prompts/prompt-set';

/**
 * What an ablated writer contributes (docs/method.md §2.3):
 * - `corrupted`: its output on the paired corrupted prompt (needs pairs of equal length);
 * - `mean`: its mean output over all clean prompts and all their positions;
 * - `mean-positional`: its mean output over all clean prompts, per position;
 * - `zero`: nothing.
 * Means are taken over the whole prompt set, not one batch, so scores do not depend on how the
 * prompts were cut into batches (the reference code takes the mean over its batch).
 */
export type AblationKind = 'corrupted' | 'mean' | 'mean-positional' | 'zero';
export const ABLATION_KINDS: readonly AblationKind[] = ['corrupted', 'mean', 'mean-positional', 'zero'];

/** Dataset means of the clean writer outputs: [1, D] (or [maxLen, D] per position); heads [H, 1|maxLen, D]. */
interface WriterMeans {
  input: tf.Tensor2D;
  heads: tf.Tensor3D[];
  mlps: tf.Tensor2D[];
  /** With MLP heads: [K, 1|maxLen, D] per layer. */
  mlpHeads?: tf.Tensor3D[];
}

/**
 * Produces the ablated writer outputs for each batch. Owns its means; `dispose()` frees them.
 */
export class Ablation {
  private constructor(
    readonly kind: AblationKind,
    private readonly model: TransformerModel,
    private readonly means: WriterMeans | undefined,
    /** MLP heads per MLP when the graph has them (docs/method.md §1): their outputs are ablated too. */
    private readonly mlpHeads: number | undefined,
  ) {}

  /** Prepares an ablation: for the mean kinds, one captured forward pass per batch to take the means. */
  static async create(
    kind: AblationKind,
    model: TransformerModel,
    prompts: PromptSet,
    options: { signal?: AbortSignal | undefined; rowsPerPass?: ((seq: number) => number) | undefined; mlpHeads?: number | undefined } = {},
  ): Promise<Ablation> {
    if (kind === 'mean' || kind === 'mean-positional') {
      const means = await writerMeans(model, prompts, kind === 'mean-positional', options);
      return new Ablation(kind, model, means, options.mlpHeads);
    }
    return new Ablation(kind, model, undefined, options.mlpHeads);
  }

  /** Whether a batch needs its corrupted prompts. */
  get needsCorrupt(): boolean {
    return this.kind === 'corrupted';
  }

  /**
   * Ablated writer outputs for a batch, shaped like the clean ones or broadcastable to them. The
   * caller owns (and disposes, e.g. with `disposeWriters`) the result.
   */
  writersFor(batch: PromptBatch): WriterOutputs {
    const { nLayers, nHeads, dModel } = this.model.config;
    switch (this.kind) {
      case 'corrupted': {
        if (batch.corrupt === undefined) throw new ContractError('corrupted ablation needs corrupt_ids for every prompt');
        const ids = tf.tensor2d(batch.corrupt, [batch.size, batch.seq], 'int32');
        try {
          const mlpHeads = this.mlpHeads === undefined ? {} : { mlpHeads: this.mlpHeads };
          return tf.tidy(() => this.model.forward(ids, { captureWriters: true, ...mlpHeads }).writers!);
        } finally {
          ids.dispose();
        }
      }
      case 'zero':
        return tf.tidy(() => ({
          input: tf.zeros([1, dModel]) as tf.Tensor2D,
          heads: Array.from({ length: nLayers }, () => tf.zeros([nHeads, 1, dModel]) as tf.Tensor3D),
          mlps: Array.from({ length: nLayers }, () => tf.zeros([1, dModel]) as tf.Tensor2D),
          ...(this.mlpHeads === undefined
            ? {}
            : { mlpHeads: Array.from({ length: nLayers }, () => tf.zeros([this.mlpHeads!, 1, dModel]) as tf.Tensor3D) }),
        }));
      case 'mean':
        return tf.tidy(() => ({
          input: tf.clone(this.means!.input),
          heads: this.means!.heads.map((t) => tf.clone(t)),
          mlps: this.means!.mlps.map((t) => tf.clone(t)),
          ...(this.means!.mlpHeads ? { mlpHeads: this.means!.mlpHeads.map((t) => tf.clone(t)) } : {}),
        }));
      case 'mean-positional':
        // Per-position means [maxLen, D] → this batch's positions, tiled over its rows: [size·seq, D].
        return tf.tidy(() => {
          const rows = (t: tf.Tensor2D) => tf.tile(tf.slice(t, [0, 0], [batch.seq, dModel]), [batch.size, 1]) as tf.Tensor2D;
          const heads = (t: tf.Tensor3D) => tf.tile(tf.slice(t, [0, 0, 0], [t.shape[0], batch.seq, dModel]), [1, batch.size, 1]) as tf.Tensor3D;
          const { mlpHeads } = this.means!;
          return {
            input: rows(this.means!.input),
            heads: this.means!.heads.map(heads),
            mlps: this.means!.mlps.map(rows),
            ...(mlpHeads ? { mlpHeads: mlpHeads.map(heads) } : {}),
          };
        });
    }
  }

  /**
   * The ablated outputs restricted to some token rows: clean + mask · (ablated − clean), so that
   * ablating an edge changes only those positions. mask: [tokens] of 0/1. Owned by the caller.
   */
  static restrictToTokens(ablated: WriterOutputs, clean: WriterOutputs, mask: Float32Array): WriterOutputs {
    return tf.tidy(() => {
      const m2 = tf.tensor2d(mask, [mask.length, 1]); // [tokens, 1]
      const m3 = tf.reshape(m2, [1, mask.length, 1]); // [1, tokens, 1]
      const mix = (a: tf.Tensor, c: tf.Tensor, m: tf.Tensor) => tf.add(c, tf.mul(m, tf.sub(a, c)));
      return {
        input: mix(ablated.input, clean.input, m2) as tf.Tensor2D,
        heads: clean.heads.map((c, l) => mix(ablated.heads[l]!, c, m3) as tf.Tensor3D),
        mlps: clean.mlps.map((c, l) => mix(ablated.mlps[l]!, c, m2) as tf.Tensor2D),
        ...(clean.mlpHeads ? { mlpHeads: clean.mlpHeads.map((c, l) => mix(ablated.mlpHeads![l]!, c, m3) as tf.Tensor3D) } : {}),
      };
    });
  }

  dispose(): void {
    if (this.means) disposeWriters(this.means);
  }
}

/** Means of the clean writer outputs over every prompt (and position, unless `positional`). */
async function writerMeans(
  model: TransformerModel,
  prompts: PromptSet,
  positional: boolean,
  options: { signal?: AbortSignal | undefined; rowsPerPass?: ((seq: number) => number) | undefined; mlpHeads?: number | undefined },
): Promise<WriterMeans> {
  const k = options.mlpHeads;
  const passes = prompts.batches.flatMap((b) => splitBatch(b, options.rowsPerPass?.(b.seq) ?? b.size));
  const { nLayers, nHeads, dModel } = model.config;
  const maxLen = Math.max(...prompts.batches.map((b) => b.seq));
  const rowsOut = positional ? maxLen : 1;
  let sums: WriterMeans = tf.tidy(() => ({
    input: tf.zeros([rowsOut, dModel]) as tf.Tensor2D,
    heads: Array.from({ length: nLayers }, () => tf.zeros([nHeads, rowsOut, dModel]) as tf.Tensor3D),
    mlps: Array.from({ length: nLayers }, () => tf.zeros([rowsOut, dModel]) as tf.Tensor2D),
    ...(k === undefined ? {} : { mlpHeads: Array.from({ length: nLayers }, () => tf.zeros([k, rowsOut, dModel]) as tf.Tensor3D) }),
  }));
  const counts = new Float32Array(rowsOut);
  for (const batch of passes) {
    options.signal?.throwIfAborted();
    const { size, seq } = batch;
    const padded = isPadded(batch);
    const next = tf.tidy(() => {
      const ids = tf.tensor2d(batch.clean, [size, seq], 'int32');
      const writers = model.forward(ids, { captureWriters: true, ...(k === undefined ? {} : { mlpHeads: k }) }).writers!;
      // Padding after a row's end is no prompt's output: zeroed before the sums (and not counted).
      const realTokens = padded ? tf.tensor2d(Float32Array.from({ length: size * seq }, (_, i) => (i % seq < batch.lengths[Math.floor(i / seq)]! ? 1 : 0)), [size * seq, 1]) : undefined;
      const real2 = (t: tf.Tensor2D) => (realTokens === undefined ? t : (tf.mul(t, realTokens) as tf.Tensor2D));
      const real3 = (t: tf.Tensor3D) => (realTokens === undefined ? t : (tf.mul(t, tf.reshape(realTokens, [1, size * seq, 1])) as tf.Tensor3D));
      // [size·seq, D] → per position [seq, D] padded to [maxLen, D], or summed to [1, D].
      const reduce2 = (t: tf.Tensor2D) =>
        positional ? tf.pad(tf.sum(tf.reshape(real2(t), [size, seq, dModel]), 0), [[0, maxLen - seq], [0, 0]]) : tf.sum(real2(t), 0, true);
      const reduce3 = (t: tf.Tensor3D) =>
        positional
          ? tf.pad(tf.sum(tf.reshape(real3(t), [t.shape[0], size, seq, dModel]), 1), [[0, 0], [0, maxLen - seq], [0, 0]])
          : tf.sum(real3(t), 1, true);
      return {
        input: tf.add(sums.input, reduce2(writers.input)) as tf.Tensor2D,
        heads: writers.heads.map((h, l) => tf.add(sums.heads[l]!, reduce3(h)) as tf.Tensor3D),
        mlps: writers.mlps.map((m, l) => tf.add(sums.mlps[l]!, reduce2(m)) as tf.Tensor2D),
        ...(writers.mlpHeads ? { mlpHeads: writers.mlpHeads.map((m, l) => tf.add(sums.mlpHeads![l]!, reduce3(m)) as tf.Tensor3D) } : {}),
      };
    });
    disposeWriters(sums);
    sums = next;
    // Real tokens only: a row counts at the positions it has.
    for (const n of batch.lengths) {
      if (positional) for (let t = 0; t < n; t++) counts[t]! += 1;
      else counts[0]! += n;
    }
    await tf.nextFrame();
  }
  const inverse = Float32Array.from(counts, (c) => (c > 0 ? 1 / c : 0));
  const means = tf.tidy(() => {
    const scale2 = tf.tensor2d(inverse, [rowsOut, 1]);
    const scale3 = tf.reshape(scale2, [1, rowsOut, 1]);
    return {
      input: tf.mul(sums.input, scale2) as tf.Tensor2D,
      heads: sums.heads.map((h) => tf.mul(h, scale3) as tf.Tensor3D),
      mlps: sums.mlps.map((m) => tf.mul(m, scale2) as tf.Tensor2D),
      ...(sums.mlpHeads ? { mlpHeads: sums.mlpHeads.map((m) => tf.mul(m, scale3) as tf.Tensor3D) } : {}),
    };
  });
  disposeWriters(sums);
  return means;
}
