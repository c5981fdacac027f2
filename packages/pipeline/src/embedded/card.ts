import type { TaskReport } from '@circuit-tuning/evaluation';
import type { ModelConfig } from '@circuit-tuning/model';
import type { BackendInfo } from '@circuit-tuning/runtime';
import type { EmbeddedRecipe } from './recipe';

export interface ModelCard {
  name: string;
  recipe: EmbeddedRecipe;
  model: ModelConfig;
  parameters: number;
  backend: BackendInfo;
  training: Record<string, unknown> & { seconds: number; tokensPerSecond: number };
  report: TaskReport;
  madeAt: string;
}

const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(100 * x).toFixed(1)} %`);
const num = (x: number | undefined, digits = 3) => (x === undefined ? 'n/a' : x.toFixed(digits));

/** The card as Markdown, for people; card.json holds the same numbers for tests and tools. */
export function cardMarkdown(card: ModelCard): string {
  const r = card.report;
  const conditions = (s: TaskReport['svAgreement']) =>
    s ? Object.entries(s.byCondition).map(([c, a]) => `${c} ${pct(a)}`).join(', ') : 'n/a';
  return `# ${card.name}

A ${card.model.nLayers}-layer, ${card.model.nHeads}-head GPT-2 (d_model ${card.model.dModel}, vocabulary ${card.model.vocabSize},
${card.model.maxPositions} positions; ${card.parameters.toLocaleString('en-US')} parameters) trained from scratch by this project on
its generated world (packages/tasks). Reproduce it with:

\`\`\`bash
pnpm ct train-embedded            # reads fixtures/embedded/recipe.json, seed ${card.recipe.seed}
\`\`\`

## Training
- data: the world's corpus (${String(card.training.tokens ?? 'n/a')} training tokens seen), seed ${card.recipe.seed}
- steps: ${String(card.training.steps)}, final training loss ${num(card.training.finalLoss as number | undefined)}, dev loss ${num(card.training.evalLoss as number | undefined)}
- time: ${(card.training.seconds / 60).toFixed(1)} min on backend ${card.backend.name} (${card.backend.threads} thread(s)${card.backend.nativeKernels ? `, native kernels: ${card.backend.nativeKernels.config.split(' ').slice(0, 2).join(' ')}` : ''}), ${Math.round(card.training.tokensPerSecond)} tokens/s
- made: ${card.madeAt}

## Task scores (${r.split} split)
| task | metric | value |
|---|---|---|
| subject-verb agreement | accuracy | ${pct(r.svAgreement?.accuracy)} (${conditions(r.svAgreement)}) |
| subject-verb agreement | mean logit difference | ${num(r.svAgreement?.meanLogitDiff)} |
| subject-verb disagreement (fine-tuning target) | accuracy | ${pct(r.svDisagreement?.accuracy)} |
| indirect-object identification | accuracy | ${pct(r.ioi?.accuracy)} |
| gender pronouns, stereotyped sentences | prejudice risk | ${num(r.genderBias?.prejudiceRiskStereotyped)} |
| gender pronouns, balanced referents | prejudice risk | ${num(r.genderBias?.prejudiceRiskBalanced)} |
| gender pronouns | p(stereotyped pronoun) | ${num(r.genderBias?.stereotypedPronounProbability)} |
| general text | perplexity | ${num(r.generalText?.perplexity, 2)} |
`;
}
