import { ConfigError } from '@circuit-tuning/contracts';
import type { ModelConfig } from '@circuit-tuning/model';
import { nativeKernelsApplied, tf } from '@circuit-tuning/runtime';

/**
 * The kinds of forward pass discovery runs, each with its own memory per row:
 * - `probed`: EAP/EAP-IG's forward with a zero probe on every reader input, and its backward pass;
 * - `masked`: the edge-masked forward (faithfulness, curves, exact patching), no gradient tape.
 */
export type PassKind = 'probed' | 'masked';

const PASS_NAMES: Record<PassKind, string> = {
  probed: 'probed forward/backward pass (EAP scoring)',
  masked: 'edge-masked forward pass (circuit evaluation)',
};

/**
 * Bytes one pass may use when a config sets no `memoryBudgetMB`: 1.5 GB where tensors live in
 * the 4 GB wasm heap (the model, its gradients and an optimizer's state share it with the pass),
 * 6 GB where they live in process memory (the native and cpu backends; GPT-2 small's EAP pass
 * over one 68-token prompt needs about 1.8 GB, so the wasm figure refused it). Fixed per backend,
 * not read from the machine, so that a rerun elsewhere batches its rows — and rounds its sums —
 * the same way.
 */
export function defaultPassBudgetBytes(): number {
  return tf.getBackend() === 'wasm' ? 1.5e9 : 6e9;
}

/** Estimated tensor bytes of one pass over rows of `seq` tokens: independent of the rows, and per row. */
export function passBytes(model: { config: ModelConfig }, kind: PassKind, seq: number, mlpHeads = 1): { fixed: number; perRow: number } {
  const { nLayers, nHeads, dModel, dMlp, vocabSize } = model.config;
  if (kind === 'probed') {
    // Per token, one [3H + 2] × dModel reader input per layer and the MLP's hidden layers
    // (4 × dMlp: pre- and post-activation, their gradients) several times over (probe,
    // layer-norm intermediates, gradient), and a few rows of logits; independent of the tokens,
    // the unembedding's transposed weight and its gradient (the runtime's matMul gradient
    // computes the weight's too). Copies, from tf.profile of scoreEdges: on wasm with the native
    // kernels, GPT-2 small at 32 tokens a row adds 356 MB (bench/eap.bench.ts: 5 copies) and
    // 6 layers × 8 heads, d 256 needs 6.9; on the native backend (tensors in process memory) 6.6
    // and 6.3, with 693 MB fixed on GPT-2 small (4.5 unembedding-sized tensors); plain wasm keeps
    // tape copies (12). These counts overestimate every measurement by 1–40 % (GPT-2 small on
    // wasm: 2 rows of 32 tokens in 1.5 GB, as measured to fit). Counting the reader inputs alone
    // underestimated the 6 × 8 model by 30–40 %.
    const native = tf.getBackend() === 'native';
    const copies = native || nativeKernelsApplied() ? 7 : 12;
    const fixedCopies = native ? 5 : 3;
    // A graph with K MLP heads (docs/method.md §1) adds K − 1 reader inputs and K writer outputs of
    // dModel per layer and token (the heads' probes and their captured outputs).
    const mlpRows = mlpHeads > 1 ? 2 * mlpHeads - 1 : 0;
    const perToken = copies * nLayers * ((3 * nHeads + 2 + mlpRows) * dModel + 4 * dMlp) + 6 * vocabSize;
    return { fixed: 4 * fixedCopies * vocabSize * dModel, perRow: 4 * seq * perToken };
  }
  // The edge-masked forward keeps one clean − ablated delta per writer (1 + L·(H + 1) of them,
  // packages/model/src/transformer/circuit-inputs.ts), copied once per layer into a new stack,
  // while the caller holds the ablated writer outputs (so up to three rows of dModel per writer
  // and token), and per layer its [3H, tokens, dModel] attention reader inputs a few times over,
  // the MLP's hidden layer, the attention scores, and the logits with the metric's softmax.
  // Measured peak tensor bytes of evaluateCircuits per token (tf.profile, native backend, 90 to
  // 180 tokens): 43.6 KB (4 layers × 4 heads, d 64, vocab 1,000), 336 KB (6 × 8, d 256, vocab
  // 8,000), 2.12 MB (GPT-2 small); these coefficients overestimate them by 7 %, 20 % and 28 %
  // (the phases do not all peak together). Models as small as 2 × 4, d 32 need more per token
  // than this counts, about 17 KB; at such sizes no budget is ever near. Independent of the
  // tokens: at most one cached transposed unembedding.
  // With K MLP heads there are 1 + L·(H + K) writers and K MLP-head reader inputs a layer.
  const writers = 1 + nLayers * (nHeads + mlpHeads);
  const perToken = 4 * (3 * writers * dModel + 4 * (3 * nHeads + (mlpHeads > 1 ? mlpHeads : 0)) * dModel + 2 * dMlp + 2 * nHeads * seq + 4 * vocabSize);
  return { fixed: 4 * vocabSize * dModel, perRow: seq * perToken };
}

/**
 * Rows of `seq` tokens per pass that fit a memory budget. A pass that cannot fit even one row is
 * a ConfigError naming the pass, the size asked and the budget (running it anyway exhausted the
 * wasm heap or hung the machine): raise the budget, set the rows explicitly, or use shorter prompts.
 */
export function rowsPerPass(
  model: { config: ModelConfig },
  seq: number,
  budgetBytes = defaultPassBudgetBytes(),
  kind: PassKind = 'probed',
  mlpHeads = 1,
): number {
  const { fixed, perRow } = passBytes(model, kind, seq, mlpHeads);
  const rows = Math.floor((budgetBytes - fixed) / perRow);
  if (rows >= 1) return rows;
  // Whole MB, or two significant digits below 10 MB (so that a tiny budget never reads "1 MB > 1 MB").
  const mb = (bytes: number) => `${bytes < 1e7 ? Number((bytes / 1e6).toPrecision(2)) : Math.ceil(bytes / 1e6).toLocaleString('en-US')} MB`;
  throw new ConfigError(
    `the ${PASS_NAMES[kind]} needs about ${mb(fixed + perRow)} for one row of ${seq} tokens, more than the memory budget of ${mb(budgetBytes)}`,
    { hint: 'raise memoryBudgetMB, set batchSize to choose the rows per pass yourself, or use shorter prompts' },
  );
}
