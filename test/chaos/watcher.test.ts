// The watcher's fault test, shortened for the test command: the same script as
// `npm run chaos -- watcher`, on its own stack (it restarts kube-apiserver and freezes the
// emulator, which would disturb tests sharing the common one), with fewer changes and a shorter
// Pub/Sub outage. Every fault still happens once or more.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

test('chaos: no change lost across apiserver restarts, a 410, a frozen Pub/Sub and a SIGKILL', {
  timeout: 240_000,
}, async () => {
  const run = await promisify(execFile)(
    process.execPath,
    [resolve(root, 'node_modules/tsx/dist/cli.mjs'), 'test/chaos/run.ts', 'watcher'],
    {
      cwd: root,
      env: {
        ...process.env,
        CHAOS_CHANGES: '800',
        CHAOS_RESTARTS: '2',
        CHAOS_PUBSUB_PAUSE: '8',
      },
      timeout: 230_000,
    },
  ).then(
    (done) => ({ ...done, failed: false }),
    (error: { stdout?: string; stderr?: string; message: string }) => ({
      stdout: error.stdout ?? '',
      stderr: `${error.message}\n${error.stderr ?? ''}`,
      failed: true,
    }),
  );
  const lines = run.stdout.trim().split('\n');
  // Its report goes to the test output so CI logs show the figures.
  console.log(run.stdout);
  expect(lines.at(-1), run.stderr).toBe('lost 0');
  // The script exits non-zero on a loss or on memory above its bound: both fail here.
  const memory = /watcher memory: max (\d+) MiB RSS \(bound (\d+) MiB\)/.exec(run.stdout);
  expect(memory, 'the memory line').not.toBeNull();
  expect(Number(memory?.[1])).toBeLessThanOrEqual(Number(memory?.[2]));
  expect(run.failed, run.stderr).toBe(false);
  expect(run.stdout).toContain('killing the watcher (SIGKILL');
  expect(run.stdout).toContain('compacted etcd');
});
