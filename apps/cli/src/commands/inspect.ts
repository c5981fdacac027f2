import { ConfigError } from '@circuit-tuning/contracts';
import { loadModel, type TransformerModel, topKIndices } from '@circuit-tuning/model';
import { type backendInfo, tf } from '@circuit-tuning/runtime';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { startBackend } from '../backend-options';

export interface InspectReport {
  model: string;
  backend: ReturnType<typeof backendInfo>;
  text: string;
  tokens: { id: number; token: string }[];
  topK: { id: number; token: string; logit: number; probability: number }[];
  /** Every logit at the last position, as float32 values. */
  logits: number[];
  /** Euclidean norm of each writer node's output at the last position. */
  nodeNorms: Record<string, number>;
}

/** Tokens, next-token predictions and per-node output norms for one text. */
export async function inspectText(model: TransformerModel, text: string, topK: number): Promise<Omit<InspectReport, 'model' | 'backend'>> {
  const tokenizer = model.tokenizer!;
  const ids = model.encode(text);
  if (ids.length === 0) throw new ConfigError('the text encodes to no tokens');
  const seq = ids.length;
  const { logitsLast, norms } = tf.tidy(() => {
    const { logits, writers } = model.forward(tf.tensor2d([ids], [1, seq], 'int32'), { captureWriters: true });
    const last = (t: tf.Tensor) => tf.slice(t, [seq - 1, 0], [1, model.config.dModel]);
    const norms: Record<string, number> = { input: tf.norm(last(writers!.input)).dataSync()[0]! };
    writers!.heads.forEach((heads, layer) => {
      const perHead = tf.norm(tf.slice(heads, [0, seq - 1, 0], [model.config.nHeads, 1, model.config.dModel]), 'euclidean', [1, 2]).dataSync();
      perHead.forEach((n, head) => {
        norms[`a${layer}.h${head}`] = n;
      });
      norms[`m${layer}`] = tf.norm(last(writers!.mlps[layer]!)).dataSync()[0]!;
    });
    const logitsLast = tf.slice(logits, [0, seq - 1, 0], [1, 1, model.config.vocabSize]).dataSync() as Float32Array;
    return { logitsLast, norms };
  });
  const maxLogit = Math.max(...logitsLast);
  let partition = 0;
  for (const l of logitsLast) partition += Math.exp(l - maxLogit);
  const best = topKIndices(logitsLast, topK).map((id) => ({
    id,
    token: tokenizer.idToToken(id) ?? `<${id}>`,
    logit: logitsLast[id]!,
    probability: Math.exp(logitsLast[id]! - maxLogit) / partition,
  }));
  return {
    text,
    tokens: ids.map((id) => ({ id, token: tokenizer.idToToken(id) ?? `<${id}>` })),
    topK: best,
    logits: Array.from(logitsLast),
    nodeNorms: norms,
  };
}

export function formatInspect(report: InspectReport): string {
  const lines = [`model: ${report.model}`, `backend: ${report.backend.name}`, `text: ${JSON.stringify(report.text)}`, ''];
  lines.push(`tokens (${report.tokens.length}): ${report.tokens.map((t) => `${t.token}[${t.id}]`).join(' ')}`, '');
  lines.push('next token        logit     prob');
  for (const t of report.topK) lines.push(`  ${t.token.padEnd(14)} ${t.logit.toFixed(4).padStart(8)}  ${t.probability.toFixed(4)}`);
  lines.push('', 'node output norms at the last position:');
  const entries = Object.entries(report.nodeNorms);
  for (let i = 0; i < entries.length; i += 6) {
    lines.push(`  ${entries.slice(i, i + 6).map(([n, v]) => `${n.padEnd(7)} ${v.toFixed(3).padStart(8)}`).join('  ')}`);
  }
  return lines.join('\n');
}

export const inspectCommand: Command = {
  ...COMMAND_INFO['inspect'],
  async run({ values, positionals }) {
    const [dir, text] = positionals;
    if (!dir || text === undefined) throw new ConfigError('inspect needs a model directory and a text', { hint: `usage: circuit-tuning ${this.usage}` });
    const topK = Number(values['top-k'] ?? 10);
    if (!Number.isInteger(topK) || topK < 1) throw new ConfigError(`--top-k must be a positive integer, got ${values['top-k']}`);
    const backend = await startBackend(values);
    const model = await loadModel(dir);
    try {
      const report: InspectReport = { model: dir, backend, ...(await inspectText(model, text, topK)) };
      process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatInspect(report)}\n`);
    } finally {
      model.dispose();
    }
    return 0;
  },
};
