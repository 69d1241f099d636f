// move: what moving a tenant to another cell takes, and whether it is ever Ready nowhere. On one
// local stack of two real cells (eu1 europe-west1, us1 us-central1), each round signs up a tenant
// in eu1, waits until it is Ready, and moves it to us1. In every third round the move is stopped
// after a random step (as a crash there would end it) and asked again, as a redelivery would.
// Baseline in the same run: a fresh sign-up in us1, timed from the request until it is Ready.
// Meanwhile both cells are asked for the tenant's phase every `pollMs`: the longest stretch in
// which neither cell answered Ready is `move_unready_ms` (its resolution is the poll period).
// Prints p50/p99 of time to move and of the baseline, their ratio, `moves N of N completed`, and
// last `move_unready_ms <ms>` (goal 0).

import { type MoveStep, moveSteps, moveTenant } from '../../functions/placement/move.ts';
import { type LocalCell, startCells } from '../../infra/local/cells.ts';
import { provisionAudience } from '../../infra/local/deploy.ts';
import { mintToken, signupAccount } from '../../infra/local/identities.ts';
import { startStack } from '../../infra/local/stack.ts';
import { firestoreClient } from '../../shared/gcp/firestore.ts';
import { httpRequest } from '../support/http.ts';
import { placementDeps } from '../support/placement-deps.ts';
import { median, ms, percentile } from './stats.ts';

const rounds = Number(process.env.MOVE_ROUNDS ?? 12);
const pollMs = 100;
const cells: LocalCell[] = [
  { name: 'eu1', region: 'europe-west1' },
  { name: 'us1', region: 'us-central1' },
];

const stack = await startStack({ cells: cells.map((c) => c.name), log: () => {} });
const firestore = firestoreClient({
  project: stack.firestoreProject,
  emulatorHost: stack.firestoreEmulatorHost,
});
try {
  // Every round deletes a source copy: more than the default budget of 10 an hour.
  const running = await startCells(stack, cells, {
    provisionEnv: { KUBEFN_DELETION_BUDGET: '50/1h' },
  });
  const deps = placementDeps(running, cells, firestore);
  const provision = async (cell: string) => {
    const info = running.cells[cell];
    if (!info) throw new Error(`cell ${cell} did not start`);
    const token = await mintToken(info.admin, signupAccount, { audiences: [provisionAudience] });
    return { url: info.provision.url, token };
  };
  const at = { eu1: await provision('eu1'), us1: await provision('us1') };
  const phase = async (cell: 'eu1' | 'us1', id: string) => {
    const answer = await httpRequest(`${at[cell].url}/tenants/${id}`, at[cell].token, 'GET');
    return answer.status === 200 ? (JSON.parse(answer.body) as { phase: string }).phase : '';
  };
  const signUp = async (cell: 'eu1' | 'us1', id: string) => {
    const body = JSON.stringify({ customerId: id, plan: 'free' });
    const answer = await httpRequest(`${at[cell].url}/tenants`, at[cell].token, 'POST', body);
    if (answer.status !== 201) throw new Error(`sign-up in ${cell}: ${answer.status}`);
  };
  const readyIn = async (cell: 'eu1' | 'us1', id: string) => {
    const deadline = Date.now() + 120_000;
    while ((await phase(cell, id)) !== 'Ready') {
      if (Date.now() > deadline) throw new Error(`${id} not Ready in ${cell}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };

  const moveTimes: number[] = [];
  const signupTimes: number[] = [];
  let completed = 0;
  let longestUnready = 0;
  const kills: string[] = [];
  for (let round = 0; round < rounds; round++) {
    // The baseline: a new tenant in the target cell, to Ready.
    const fresh = `bench-fresh-${round}-${Date.now().toString(36)}`;
    const begun = performance.now();
    await signUp('us1', fresh);
    await readyIn('us1', fresh);
    signupTimes.push(performance.now() - begun);

    // The tenant to move: placed in eu1 through placement's records, Ready there.
    const id = `bench-move-${round}-${Date.now().toString(36)}`;
    const placed = await deps.store.place(
      { customerId: id, region: 'europe-west1' },
      deps.cells,
      () => ({ ok: true, cell: deps.cells[0] as (typeof deps.cells)[number] }),
    );
    if ('code' in placed) throw new Error(`not placed: ${placed.code}`);
    await signUp('eu1', id);
    await readyIn('eu1', id);

    // Watch both cells while it moves.
    let watching = true;
    let unreadySince: number | undefined;
    const watch = (async () => {
      while (watching) {
        const [eu, us] = await Promise.all([phase('eu1', id), phase('us1', id)]);
        const now = performance.now();
        if (eu !== 'Ready' && us !== 'Ready') unreadySince ??= now;
        else if (unreadySince !== undefined) {
          longestUnready = Math.max(longestUnready, now - unreadySince);
          unreadySince = undefined;
        }
        await new Promise((r) => setTimeout(r, pollMs));
      }
    })();
    const killAt: MoveStep | undefined =
      round % 3 === 2 ? moveSteps[Math.floor(Math.random() * moveSteps.length)] : undefined;
    const started = performance.now();
    try {
      await moveTenant(id, 'us1', deps, {
        onStep: (step) => {
          if (step === killAt) throw new Error(`killed after ${step}`);
        },
      });
    } catch (error) {
      if (!killAt) throw error;
      kills.push(killAt);
      await moveTenant(id, 'us1', deps);
    }
    moveTimes.push(performance.now() - started);
    // Ready in us1 at the end, and a last look at both.
    await readyIn('us1', id);
    watching = false;
    await watch;
    if (unreadySince !== undefined)
      longestUnready = Math.max(longestUnready, performance.now() - unreadySince);
    const record = await deps.store.find(id);
    if (record?.cell === 'us1' && !record.move) completed++;
  }
  console.log(`rounds ${rounds}; killed after: ${kills.join(', ') || 'none'}`);
  console.log(
    `time to move: p50 ${ms(median(moveTimes))}, p99 ${ms(percentile(moveTimes, 99))} (each with the target's copy Ready and the source's removed)`,
  );
  console.log(
    `baseline, a fresh sign-up to Ready in the target: p50 ${ms(median(signupTimes))}, p99 ${ms(percentile(signupTimes, 99))}`,
  );
  console.log(`move_vs_signup_ratio ${(median(moveTimes) / median(signupTimes)).toFixed(2)}`);
  console.log(`moves ${completed} of ${rounds} completed`);
  console.log(`move_unready_ms ${Math.round(longestUnready)}`);
  await running.stop();
} finally {
  await firestore.close();
  await stack.stop();
}
