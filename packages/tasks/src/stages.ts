// The stage definitions: for the pipeline's stage registry (and this package's tests). Another
// stage package calls this package's library (src/index.ts), never its stages.
export { generateTasksStage } from './stage/generate-stage';
export { importPairsStage, importSubjectVerbStage, importWinoBiasStage } from './stage/import-stages';
