import { z } from 'zod';

/**
 * How a circuit's nodes map to the parameters circuit-tuning trains (docs/method.md §1 "Nodes own
 * parameters", §4 step 2). One schema for every variant that maps a circuit to parameters
 * (circuit-tuning, random-circuit, fixed-circuit, and redundancy's tuning curve through them).
 */
export const ParameterMappingConfig = z.strictObject({
  /**
   * 'reader-writer' (the default; the reference code's granularity): an MLP in the circuit as a
   * writer trains W_out and b_out, as a reader W_in (and W_gate) and b_in; an MLP that is both
   * trains all of it. 'whole': any MLP in the circuit trains all of its matrices. 'heads': the
   * graph splits every MLP into MLP heads of `mlpHeadWidth` neurons, each a writer (its rows of
   * W_out) and a reader (its columns of W_in, W_gate and b_in); b_out then belongs to no node and
   * stays frozen. Edge-ablated training refuses it for now: its mean ablation has no per-MLP-head
   * means yet (the edge-masked forward runs MLP-head graphs).
   */
  mlp: z
    .enum(['reader-writer', 'whole', 'heads'])
    .default('reader-writer')
    .describe(
      "an MLP in the circuit: 'reader-writer' trains W_out, b_out as a writer and W_in (W_gate), b_in as a reader; 'whole' trains all of it; 'heads' splits it into MLP heads of mlpHeadWidth neurons (b_out then frozen)",
    ),
  /** Neurons per MLP head with mlp 'heads' (the reference code's 64); must divide the MLP's width. */
  mlpHeadWidth: z.number().int().positive().default(64).describe("neurons per MLP head with mlp 'heads' (the reference code's 64); must divide the MLP's width"),
  /**
   * The attention output bias b_O of a layer: 'heads' (the default) trains it whenever a head of
   * that layer is in the circuit as a writer, since b_O is added to what the layer's heads write;
   * 'frozen' never trains it.
   */
  outputBias: z
    .enum(['heads', 'frozen'])
    .default('heads')
    .describe("attention output bias b_O: 'heads' trains it when a head of its layer is in the circuit as a writer; 'frozen' never"),
});
export type ParameterMappingConfig = z.output<typeof ParameterMappingConfig>;
