// `npm run chaos -- NAME`: runs test/chaos/NAME.ts.
const name = process.argv[2];
if (name !== 'watcher') {
  console.error('usage: npm run chaos -- watcher');
  process.exit(2);
}
await import(`./${name}.ts`);
