#!/usr/bin/env node
// The `circuit-tuning` (and `ct`) command. The workspace is TypeScript run without a build step:
// tsx's loader is registered in this process (no second Node process, so signals and the exit
// code are the CLI's own), then the CLI runs. `pnpm exec ct …` from the repository calls this
// file directly and keeps the exit codes of the README's table.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../src/main.ts', import.meta.url).href);
process.exit(await main(process.argv.slice(2)));
