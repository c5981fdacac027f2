// The embedded world: config, lexicon, vocabulary and tokenizer, documents, corpus.
export { CorpusMix, GrammarOptions, parseWorldConfig, VocabularyOptions, WorldConfig, type WorldConfigInput } from './world/config';
export { type CorpusLimit, generateCorpus, generateDocument, generateTrainingDocument, isTrainingDocument } from './world/corpus';
export { describeWorld } from './world/describe';
export {
  AGREEMENT_CONDITIONS,
  type AgreementCondition,
  type AgreementDocument,
  DOCUMENT_KINDS,
  type DocumentKind,
  flipPresentVerbs,
  flipSubjectNumber,
  type IoiDocument,
  type IoiOrder,
  type NarrativeDocument,
  type PresentVerb,
  type PronounDocument,
  type ReferentKind,
  renderWords,
  type WorldDocument,
} from './world/document';
export { type AgreementSpec, generateAgreement } from './world/grammar/agreement';
export { generateIoi, IOI_TEMPLATES, type IoiSpec } from './world/grammar/ioi';
export { generateNarrative } from './world/grammar/narrative';
export { drawPronounSpec, generatePronoun, type PronounSpec } from './world/grammar/pronoun';
export { createHeldOut, type HeldOut, hash01, SPLITS, type Split } from './world/held-out';
export {
  ADJECTIVES,
  CLAUSE_VERBS,
  GIFTS,
  type GrammaticalNumber,
  type NounEntry,
  NOUN_PREPOSITIONS,
  NOUNS,
  PERSON_ADJECTIVES,
  PLACES,
  TRANSFER_VERBS,
  type VerbEntry,
  type VerbKind,
  VERBS,
} from './world/lexicon';
export {
  FEMALE_NAMES,
  type Gender,
  MALE_NAMES,
  type NameEntry,
  NEUTRAL_PEOPLE,
  type OccupationEntry,
  OCCUPATIONS,
  PRONOUNS,
  type PronounRole,
} from './world/people';
export { PRONOUN_TEMPLATES } from './world/pronoun-templates';
export { worldTokenizer, worldVocabulary } from './world/vocabulary';
export { createWorld, type World } from './world/world';
// Task datasets built from the world.
export { splitSizes, type SplitSizes } from './datasets/collect';
export { buildCorpusTexts, CORPUS_TASK_PREFIX, tokenStream } from './datasets/corpus-texts';
export { buildGenderBiasEval, buildGenderBiasTexts, GENDER_BIAS_TASK } from './datasets/gender-bias';
export { buildGeneralText, GENERAL_TEXT_TASK } from './datasets/general-text';
export { buildIoiPrompts, IOI_TASK } from './datasets/ioi';
export {
  type PromptRow,
  promptColumns,
  promptRows,
  type PromptsColumns,
  type TextRow,
  textColumns,
  textRows,
  type TextsColumns,
} from './datasets/rows';
export { buildDisagreementTexts, buildSubjectVerbPrompts, SV_AGREEMENT_TASK, SV_DISAGREEMENT_TASK } from './datasets/subject-verb';
export {
  CorpusOptions,
  DatasetSizes,
  generateTaskSuite,
  TASK_NAMES,
  type TaskName,
  type TaskSuite,
  TaskSuiteConfig,
  type TaskSuiteConfigInput,
} from './datasets/suite';
// Metrics on scored prompts (numbers in, numbers out; no tensors).
export { accuracyByKey, accuracyFromLogitDiffs, type GroupedAccuracy, meanLogitDiff } from './metrics/accuracy';
export {
  type PrejudiceRisk,
  type PrejudiceRow,
  prejudiceRisk,
  prejudiceRiskFromLogitDiffs,
  promptPrejudiceRisk,
} from './metrics/prejudice-risk';
// Importers for the paper's real data files.
export {
  importReferenceSubjectVerbJsonl,
  readReferenceSubjectVerbJsonl,
  type ReferenceSubjectVerbRecord,
  type ReferenceVerb,
  type SubjectVerbImport,
  type SubjectVerbImportOptions,
} from './importers/reference-sv';
export { type DelimitedRecord, type DelimitedTable, parseDelimited, readDelimitedFile } from './importers/delimited';
export { importPairs, PAIR_FORMATS, PairColumns, type PairFormat, type PairsImport, type PairsImportOptions } from './importers/pairs';
export { noUsableRows, type Reject, RejectLog, type RejectReason, type RejectsColumns, RowProblem } from './importers/rejects';
export { SplitShares, splitByHash } from './importers/splits';
export {
  herIsObject,
  importWinoBias,
  importWinoBiasJsonl,
  pronounForms,
  readWinoBiasJsonl,
  readWinoBiasOccupations,
  type WinoBiasImport,
  type WinoBiasImportOptions,
  type WinoBiasRecord,
  type WinoBiasStereotype,
} from './importers/winobias';
