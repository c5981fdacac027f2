// The stage definitions: for the pipeline's stage registry (and this package's tests). Another
// stage package calls this package's library (src/index.ts), never its stages.
export { ReportConfig, reportStage } from './report-stage';
