// The placement function's settings, from its environment, checked when the module loads:
//   KUBEFN_CELLS               JSON list of the cells (shared/cells.ts): name, region,
//                              provisionUrl, audience (default: the URL), capacity (default
//                              5,000 tenants)
//   KUBEFN_ALLOW_TENANTS       who may call the tenant routes, /regions and /cells (the signup
//                              backend, operators)
//   KUBEFN_ALLOW_PUSH          who may push tenant requests (the push account)
//   KUBEFN_ALLOW_OPERATOR      who may move tenants and drain cells; unset, nobody
//   KUBEFN_ALLOW_RESYNC        who may run placement's round (/resync, Cloud Scheduler); unset, nobody
//   KUBEFN_OUTCOMES_TOPIC      where moves' outcome events go (provision's outcomes.ts, source
//                              placement); the project from PUBSUB_PROJECT_ID or
//                              GOOGLE_CLOUD_PROJECT; unset, none are published
//   KUBEFN_CALLER_TOKEN_DIR    a folder with a token file per cell, <cell>.token (the local
//                              stack, where each cell's cluster issues its own); otherwise an ID
//                              token per cell's audience from the metadata server
//   GOOGLE_CLOUD_PROJECT       the project of placement's Firestore database;
//   KUBEFN_FIRESTORE_DATABASE  its id (default "(default)"); FIRESTORE_EMULATOR_HOST: the emulator
//   plus KUBEFN_AUTH_*; with KUBEFN_AUTH_KUBERNETES, the cluster whose service-account tokens it
//   trusts (shared/kube/connection.ts; the local stack's first cell).
import { join } from 'node:path';
import * as v from 'valibot';
import { allowList, authEnvEntries, callerRule, trustedIssuers } from '../../shared/auth/index.ts';
import { type Cell, CellsSchema } from '../../shared/cells.ts';
import { envProblem, readEnv, readEnvValue } from '../../shared/env.ts';
import { metadataAccessToken } from '../../shared/gcp/access-token.ts';
import { firestoreClient } from '../../shared/gcp/firestore.ts';
import { metadataIdToken } from '../../shared/gcp/id-token.ts';
import {
  checkClusterSettings,
  clusterEnvEntries,
  connectCluster,
  type TokenProvider,
  tokenFile,
} from '../../shared/kube/index.ts';
import { pubsubProject, pubsubProjectEntries } from '../../shared/pubsub/project.ts';
import { pubsubPublisher } from '../../shared/pubsub/publisher.ts';
import { outcomePublisher, outcomeRetryMs } from '../provision/outcomes.ts';
import type { AppDeps } from './app.ts';
import { probeCell } from './handler.ts';
import { cellHealth } from './health.ts';
import { placementStore } from './store.ts';

const EnvSchema = v.object({
  ...authEnvEntries,
  ...clusterEnvEntries,
  KUBEFN_CELLS: v.string(),
  KUBEFN_ALLOW_TENANTS: allowList,
  KUBEFN_ALLOW_PUSH: allowList,
  KUBEFN_ALLOW_OPERATOR: allowList,
  KUBEFN_ALLOW_RESYNC: allowList,
  KUBEFN_OUTCOMES_TOPIC: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z][\w.~+%-]{2,254}$/))),
  ...pubsubProjectEntries,
  KUBEFN_CALLER_TOKEN_DIR: v.optional(v.pipe(v.string(), v.minLength(1))),
  GOOGLE_CLOUD_PROJECT: v.pipe(v.string(), v.minLength(1)),
  KUBEFN_FIRESTORE_DATABASE: v.optional(v.pipe(v.string(), v.regex(/^[\w()-]{1,63}$/))),
  FIRESTORE_EMULATOR_HOST: v.optional(
    v.pipe(v.string(), v.regex(/^[\w.-]+:\d{1,5}$/, 'host:port')),
  ),
});

export type PlacementSettings = v.InferOutput<typeof EnvSchema> & { cells: Cell[] };

/** Throws an EnvError naming each bad variable, synchronously: the deploy fails. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): PlacementSettings {
  const settings = readEnv('placement', EnvSchema, env);
  checkClusterSettings('placement', settings);
  if (settings.KUBEFN_OUTCOMES_TOPIC) pubsubProject('placement', settings);
  let json: unknown;
  try {
    json = JSON.parse(settings.KUBEFN_CELLS);
  } catch {
    throw envProblem('placement', 'KUBEFN_CELLS', 'a JSON list of cells');
  }
  return { ...settings, cells: readEnvValue('placement', 'KUBEFN_CELLS', CellsSchema, json) };
}

/** The settings now; the network work (issuers' keys) as a promise. */
export function depsFromEnv(env: NodeJS.ProcessEnv): Promise<AppDeps> {
  return connect(settingsFromEnv(env));
}

async function connect(settings: PlacementSettings): Promise<AppDeps> {
  const kube = settings.KUBEFN_AUTH_KUBERNETES
    ? (await connectCluster(settings)).client
    : undefined;
  const issuers = await trustedIssuers(settings, kube);
  const dir = settings.KUBEFN_CALLER_TOKEN_DIR;
  const tokens = new Map<string, TokenProvider>();
  const tokenFor = (cell: Cell) => {
    const known = tokens.get(cell.name);
    if (known) return known;
    const token = dir
      ? tokenFile(join(dir, `${cell.name}.token`))
      : metadataIdToken(cell.audience ?? cell.provisionUrl);
    tokens.set(cell.name, token);
    return token;
  };
  const firestore = firestoreClient({
    project: settings.GOOGLE_CLOUD_PROJECT,
    database: settings.KUBEFN_FIRESTORE_DATABASE,
    emulatorHost: settings.FIRESTORE_EMULATOR_HOST,
    token: metadataAccessToken(),
  });
  return {
    cells: settings.cells,
    store: placementStore(firestore),
    health: cellHealth((cell) => probeCell(cell, { tokenFor })),
    tokenFor,
    caller: callerRule(settings, issuers, settings.KUBEFN_ALLOW_TENANTS),
    pushCaller: callerRule(settings, issuers, settings.KUBEFN_ALLOW_PUSH),
    operatorCaller: callerRule(settings, issuers, settings.KUBEFN_ALLOW_OPERATOR),
    resyncCaller: callerRule(settings, issuers, settings.KUBEFN_ALLOW_RESYNC),
    outcomes: settings.KUBEFN_OUTCOMES_TOPIC
      ? outcomePublisher(
          pubsubPublisher(pubsubProject('placement', settings), settings.KUBEFN_OUTCOMES_TOPIC, {
            ordered: true,
            retryForMs: outcomeRetryMs,
          }),
          'global',
          undefined,
          'placement',
        )
      : undefined,
  };
}
