/**
 * The start of the small pipelines the tests run (tuning-curve.test.ts, circuit-lora-pipeline.test.ts):
 * the embedded world's subject-verb disagreement and general text at toy sizes, and a 2-layer
 * model pre-trained from scratch for a few steps (`pretrain.model`). `steps` follows, indented as
 * steps of the same map.
 */
export function toyWorldPipeline(name: string, steps: string): string {
  return `name: ${name}
seed: 3
backend: cpu
steps:
  tasks:
    stage: tasks:generate
    config:
      tasks: [sv-disagreement, general-text]
      corpus: { tokens: 6000, devDocuments: 10 }
      sizes: { svAgreement: { train: 32, dev: 8, test: 8 }, svDisagreementTrain: { train: 64, dev: 8, test: 16 }, generalText: { train: 0, dev: 0, test: 4 } }
  pretrain:
    stage: train:full
    inputs: { tokenizer: tasks.tokenizer, train: tasks.corpus_train }
    config: { init: { kind: scratch, nLayers: 2, nHeads: 2, dModel: 16, maxPositions: 32 }, steps: 4, batchSize: 8, seqLen: 32, packing: packed }
${steps}`;
}
