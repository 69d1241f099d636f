// `npm run bench -- NAME`: runs test/bench/NAME.ts. Each benchmark measures kubefn against a
// baseline in the same run and prints its figure as the last line.
import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';

const name = process.argv[2];
const available = (await readdir(import.meta.dirname))
  .filter((file) => file.endsWith('.ts') && !['run.ts', 'stats.ts'].includes(file))
  .map((file) => file.replace(/\.ts$/, ''));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME   (one of: ${available.join(', ')})`);
  process.exit(2);
}
// Every figure is read with the machine it was measured on (each benchmark names its rounds).
console.log(
  `bench ${name}: Node ${process.version}, ${availableParallelism()} cores, ${new Date().toISOString()}`,
);
await import(`./${name}.ts`);
