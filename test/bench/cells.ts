// cells: what cells cost a sign-up. On one local stack of two real cells (eu1 europe-west1, us1
// us-central1), three arms, interleaved round by round so they share the machine's state:
//   two cells   placement over eu1 and us1, sign-ups alternating between the two regions
//   one cell    placement over eu1 only (its own Firestore records), every sign-up to eu1
//   direct      eu1's provision called as the signup backend would without placement
// Each a new tenant (POST /tenants, free plan), timed from the request to the answer.
// Prints p50/p99 per arm, placement's cost (one cell against direct), and last
// `cells_overhead <p50 two cells / p50 one cell>` (goal <= 1.10).
import { readFile } from 'node:fs/promises';
import { type LocalCell, startCells, startPlacement } from '../../infra/local/cells.ts';
import { provisionAudience } from '../../infra/local/deploy.ts';
import { mintToken, signupAccount } from '../../infra/local/identities.ts';
import { startStack } from '../../infra/local/stack.ts';
import { httpRequest } from '../support/http.ts';
import { median, ms, percentile } from './stats.ts';

const rounds = Number(process.env.CELLS_ROUNDS ?? 60);
const cells: LocalCell[] = [
  { name: 'eu1', region: 'europe-west1' },
  { name: 'us1', region: 'us-central1' },
];

const stack = await startStack({ cells: cells.map((c) => c.name), log: () => {} });
try {
  const running = await startCells(stack, cells);
  const oneCell = await startPlacement(stack, running.cells, [cells[0] as LocalCell]);
  const eu1 = running.cells.eu1;
  if (!eu1) throw new Error('eu1 did not start');
  const token = async (file: string) => (await readFile(file, 'utf8')).trim();
  const direct = await mintToken(eu1.admin, signupAccount, { audiences: [provisionAudience] });
  const arms = {
    'two cells': { url: running.placement.url, token: await token(running.signupTokenFile) },
    'one cell': { url: oneCell.placement.url, token: await token(oneCell.signupTokenFile) },
    direct: { url: eu1.provision.url, token: direct },
  };
  type Arm = keyof typeof arms;
  let n = 0;
  const signUp = async (arm: Arm, region: string | undefined) => {
    const customerId = `bench-${arm.replace(' ', '-')}-${n++}`;
    const body = JSON.stringify({ customerId, plan: 'free', ...(region ? { region } : {}) });
    const begun = performance.now();
    const answer = await httpRequest(`${arms[arm].url}/tenants`, arms[arm].token, 'POST', body);
    const took = performance.now() - begun;
    if (answer.status !== 201) throw new Error(`${arm}: ${answer.status} ${answer.body}`);
    return took;
  };
  const regionOf = (arm: Arm, round: number) =>
    arm === 'two cells'
      ? (cells[round % 2] as LocalCell).region
      : arm === 'one cell'
        ? 'europe-west1'
        : undefined;

  // Warm every path (connections, tokens, discovery, the cells' health) before timing.
  for (let i = 0; i < 4; i++)
    for (const arm of Object.keys(arms) as Arm[]) await signUp(arm, regionOf(arm, i));
  const times: Record<Arm, number[]> = { 'two cells': [], 'one cell': [], direct: [] };
  const orders: Arm[][] = [
    ['two cells', 'one cell', 'direct'],
    ['one cell', 'direct', 'two cells'],
    ['direct', 'two cells', 'one cell'],
  ];
  for (let round = 0; round < rounds; round++)
    for (const arm of orders[round % orders.length] as Arm[])
      times[arm].push(await signUp(arm, regionOf(arm, round)));

  console.log(`${rounds} sign-ups per arm, interleaved; each a new tenant (free plan)`);
  for (const arm of Object.keys(arms) as Arm[])
    console.log(
      `  ${arm.padEnd(10)} p50 ${ms(median(times[arm]))}  p99 ${ms(percentile(times[arm], 99))}`,
    );
  const placementCost = median(times['one cell']) - median(times.direct);
  console.log(
    `placement's cost per sign-up (one cell against direct, p50): ${ms(placementCost)} (ratio ${(median(times['one cell']) / median(times.direct)).toFixed(2)}): a new tenant's record and its cell's count are read from Firestore and written in one commit, and the cell's health is asked at most every 5 s`,
  );
  const memory = await stack.memory();
  const total = Object.values(memory).reduce((a, b) => a + b, 0);
  console.log(
    `stack memory (RSS, two cells and the emulators): ${(total / 2 ** 20).toFixed(0)} MiB`,
  );
  await oneCell.placement.stop();
  await running.stop();
  console.log(
    `cells_overhead ${(median(times['two cells']) / median(times['one cell'])).toFixed(2)}`,
  );
} finally {
  await stack.stop();
}
