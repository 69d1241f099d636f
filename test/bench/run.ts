// `npm run bench -- NAME`: runs test/bench/NAME.ts. Each benchmark measures kubefn against a
// baseline in the same run and prints its figure as the last line.
import { readdir } from 'node:fs/promises';

const name = process.argv[2];
const available = (await readdir(import.meta.dirname))
  .filter((file) => file.endsWith('.ts') && !['run.ts', 'stats.ts'].includes(file))
  .map((file) => file.replace(/\.ts$/, ''));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME   (one of: ${available.join(', ')})`);
  process.exit(2);
}
await import(`./${name}.ts`);
