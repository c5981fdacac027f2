/**
 * The layering, checked on every `pnpm test` (`pnpm depcruise`): packages depend one way,
 *
 *   contracts ← native ← runtime ← model, viz ← stage packages ← pipeline ← apps
 *
 * (stage packages: tasks, discovery, training, redundancy, evaluation, report). A stage package may
 * call another package's library (its src/index.ts), never its stage definitions (src/stages.ts,
 * which only the pipeline's registry and the apps import): in a pipeline, stages meet through files.
 * No import reaches into another package's src/ past its declared entries, and no module cycles.
 */
const STAGE_PACKAGES = 'tasks|discovery|training|redundancy|evaluation|report';
const DEFINES_STAGES = `model|${STAGE_PACKAGES}`;

/** A package may import itself and the packages listed (by directory name), nothing else in the repo. */
const onlyBelow = (name, pkg, allowed) => ({
  name,
  severity: 'error',
  comment: `${pkg} may depend on ${allowed.join(', ') || 'no other package'} only (contracts ← native ← runtime ← model, viz ← stage packages ← pipeline ← apps)`,
  from: { path: `^packages/(${pkg})/` },
  to: { path: '^(packages|apps)/', pathNot: [`^packages/(${[pkg, ...allowed].join('|')})/`] },
});

module.exports = {
  forbidden: [
    onlyBelow('layer-contracts', 'contracts', []),
    onlyBelow('layer-native', 'native', ['contracts']),
    onlyBelow('layer-runtime', 'runtime', ['native', 'contracts']),
    onlyBelow('layer-model', 'model', ['runtime', 'native', 'contracts']),
    onlyBelow('layer-viz', 'viz', ['runtime', 'native', 'contracts']),
    onlyBelow('layer-stage-packages', STAGE_PACKAGES, ['model', 'viz', 'runtime', 'native', 'contracts']),
    onlyBelow('layer-pipeline', 'pipeline', [DEFINES_STAGES, 'viz', 'runtime', 'native', 'contracts']),
    {
      name: 'no-stage-runs-another-stage',
      severity: 'error',
      comment: "a stage package calls another package's library (src/index.ts), never its stage definitions (src/stages.ts)",
      from: { path: `^packages/(${DEFINES_STAGES})/src/` },
      to: { path: `^packages/(${DEFINES_STAGES})/src/stages\\.ts$`, pathNot: ['^packages/$1/'] },
    },
    {
      name: 'no-deep-imports',
      severity: 'error',
      comment: "import another package by its name (its src/index.ts, or src/stages.ts for stage definitions), not a file inside its src/",
      from: { path: '^(packages|apps)/([^/]+)/' },
      to: { path: '^(packages|apps)/[^/]+/src/', pathNot: ['^$1/$2/', '^(packages|apps)/[^/]+/src/(index|stages)\\.ts$'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'modules (and so packages) must not depend on each other in a cycle (a type-only import is not a dependency at run time)',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'every import resolves (a package missing from package.json, a mistyped path)',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|/\\.scratch|scratch\\.ts$|\\.tmp\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default'],
      extensions: ['.ts', '.mjs', '.js', '.json', '.node'],
    },
  },
};
