#!/usr/bin/env node
// An "external" stage variant for the pipeline tests: a separate program (plain JavaScript with
// apache-arrow, no project code) that follows the external-command protocol. It turns a prompts
// table into a texts table (each clean prompt followed by its answer), reporting progress as
// JSON lines on stdout. `--fail` makes it exit with an error, to test failure handling.
import { readFileSync, writeFileSync } from 'node:fs';
import { Field, Int32, List, tableFromIPC, tableToIPC, Table, Utf8, vectorFromArray } from 'apache-arrow';

const request = JSON.parse(readFileSync(process.env.CT_REQUEST, 'utf8'));
if (process.argv.includes('--fail')) {
  console.error('prompts-to-texts: asked to fail');
  process.exit(3);
}
const prompts = tableFromIPC(readFileSync(request.inputs.prompts));
const limit = request.config.limit ?? prompts.numRows;
const n = Math.min(limit, prompts.numRows);
const col = (name) => prompts.getChild(name);
const rows = { id: [], split: [], task: [], text: [], ids: [], target_positions: [] };
for (let i = 0; i < n; i++) {
  const ids = Array.from(col('clean_ids').get(i).toArray());
  rows.id.push(i);
  rows.split.push(col('split').get(i));
  rows.task.push(`${col('task').get(i)}-texts`);
  rows.text.push(col('clean_text').get(i));
  rows.ids.push([...ids, col('answer').get(i)]);
  rows.target_positions.push([ids.length - 1]);
  if (i % 10 === 0) console.log(JSON.stringify({ progress: { label: 'rows', completed: i, total: n } }));
}
const list = () => new List(new Field('item', new Int32(), true));
const table = new Table({
  id: vectorFromArray(rows.id, new Int32()),
  split: vectorFromArray(rows.split, new Utf8()),
  task: vectorFromArray(rows.task, new Utf8()),
  text: vectorFromArray(rows.text, new Utf8()),
  ids: vectorFromArray(rows.ids, list()),
  target_positions: vectorFromArray(rows.target_positions, list()),
});
const out = request.outputs.texts;
for (const [key, value] of Object.entries(out.metadata)) table.schema.metadata.set(key, value);
writeFileSync(out.path, tableToIPC(table, 'file'));
console.log(JSON.stringify({ log: { message: `wrote ${n} texts` } }));
console.log('plain text lines are logged too');
