// What other packages use of tasks' library: the embedded world's task suite (the embedded model,
// the card and the tests are made from it) and prejudice risk (evaluation and redundancy score it).
// The world, the generators and the importers stay internal; the stages (tasks:generate,
// tasks:import-*) are in src/stages.ts.
export { generateTaskSuite, type TaskSuite, TaskSuiteConfig, type TaskSuiteConfigInput } from './datasets/suite';
export { type PrejudiceRisk, type PrejudiceRow, prejudiceRisk } from './metrics/prejudice-risk';
