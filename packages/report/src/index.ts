// The report stage: a run's report from its run index, as HTML and Markdown.
// Timings are the only values two runs of a pipeline differ in: verify compares reports with them masked.
export { hasTimings, maskTimings } from './timing';
// What the run viewer draws the same way as the report.
export { circuitFromTables } from './sections';
export { circuitLogDiff, circuitLogSteps } from './circuit-log-diff';
