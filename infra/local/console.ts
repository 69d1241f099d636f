// The operator console on the local stack (functions/console): global, like placement. It acts
// as its own ServiceAccount, kubefn-system/kubefn-console, in each cell's cluster: a token per
// cell for that cell's provision (whose KUBEFN_ALLOW_OPERATOR must name it: `consolePrincipal`,
// passed to startCells' provisionEnv). Operators sign in on the stack's Auth emulator with its
// Google provider (the emulator's fake Google ID token); its live stream and dead letters read
// the Pub/Sub emulator through pull subscriptions of its own. What `npm start` runs, and what
// test/cells/console.test.ts runs against.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { accountId, systemNamespace } from '../../shared/identities.ts';
import { buildFunctions } from '../build-functions.ts';
import { topics } from '../subscriptions.ts';
import type { LocalCell, RunningCells } from './cells.ts';
import { provisionAudience } from './deploy.ts';
import { type RunningFunction, startFunction } from './functions.ts';
import { mintToken } from './identities.ts';
import type { StackInfo } from './stack-info.ts';
import { emulator } from './triggers.ts';

export const consoleAccount = accountId('console');
export const consolePrincipal = `system:serviceaccount:${systemNamespace}:${consoleAccount}`;

/** The console's pull subscriptions (functions/console/config.ts's defaults). */
export const consoleSubscriptions = {
  changes: { name: 'kubefn-console-changes', topic: topics.changes },
  outcomes: { name: 'kubefn-console-outcomes', topic: topics.tenantOutcomes },
  deadLetters: { name: 'kubefn-dead-letter', topic: topics.deadLetter },
} as const;

export async function startConsole(
  stack: StackInfo,
  running: RunningCells,
  cells: readonly LocalCell[],
  options: { operators: string[]; port?: number; log?: (line: string) => void },
): Promise<RunningFunction> {
  const tokenDir = await mkdtemp(join(stack.dir, 'console-tokens-'));
  const known = [];
  for (const cell of cells) {
    const { admin, provision } = running.cells[cell.name] ?? {};
    if (!admin || !provision) throw new Error(`cell ${cell.name} is not running`);
    await admin
      .resource({ apiVersion: 'v1', kind: 'ServiceAccount' })
      .apply(
        { metadata: { name: consoleAccount, namespace: systemNamespace } },
        { fieldManager: 'kubefn-local', force: true },
      );
    const token = await mintToken(admin, consoleAccount, { audiences: [provisionAudience] });
    await writeFile(join(tokenDir, `${cell.name}.token`), token, { mode: 0o600 });
    known.push({
      name: cell.name,
      region: cell.region,
      provisionUrl: provision.url,
      audience: provisionAudience,
    });
  }
  // Pull subscriptions made before the console reads them: a message published earlier is not
  // kept for a subscription that did not exist.
  for (const { name, topic } of Object.values(consoleSubscriptions)) {
    await emulator(stack, `topics/${topic}`);
    await emulator(stack, `subscriptions/${name}`, {
      topic: `projects/${stack.pubsubProject}/topics/${topic}`,
      ackDeadlineSeconds: 30,
    });
  }
  const outputs = await buildFunctions(['console']);
  return startFunction({
    stateDir: stack.dir,
    target: 'console',
    source: outputs.console?.entry ?? '',
    ...(options.port ? { port: options.port } : {}),
    ...(options.log ? { log: options.log } : {}),
    env: {
      KUBEFN_CELLS: JSON.stringify(known),
      KUBEFN_CALLER_TOKEN_DIR: tokenDir,
      KUBEFN_CONSOLE_OPERATORS: options.operators.join(','),
      KUBEFN_OPERATOR_PROJECT: stack.authProject,
      KUBEFN_OPERATOR_AUTH_EMULATOR: stack.authEmulatorHost,
      PUBSUB_EMULATOR_HOST: stack.pubsubEmulatorHost,
      PUBSUB_PROJECT_ID: stack.pubsubProject,
      // The functions' cluster settings mean nothing to it.
      KUBECONFIG: undefined,
    },
  });
}
