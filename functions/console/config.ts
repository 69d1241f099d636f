// The operator console's settings, from its environment, checked when the module loads:
//   KUBEFN_CELLS                    the cells, as placement's (shared/cells.ts): the console calls
//                                   each cell's provision operator routes itself
//   KUBEFN_CALLER_TOKEN_DIR         a folder with a token file per cell, <cell>.token (the local
//                                   stack); otherwise an ID token per cell's audience from the
//                                   metadata server, as the console's own service account
//   KUBEFN_CONSOLE_OPERATORS        the operators' emails, comma-separated (required): a signed-in
//                                   Google account with a verified email on this list, and
//                                   nobody else, is answered
//   KUBEFN_OPERATOR_PROJECT         the Identity Platform project operators sign in with
//   KUBEFN_OPERATOR_API_KEY         its browser API key (public by design)
//   KUBEFN_OPERATOR_GOOGLE_CLIENT_ID  the OAuth client id of Google's sign-in button (production)
//   KUBEFN_OPERATOR_JWKS_URL        Identity Platform's public keys (tests point it at a fake)
//   KUBEFN_OPERATOR_AUTH_EMULATOR   host:port of the Firebase Auth emulator: only with a demo-
//                                   project, as the signup backend's
//   PUBSUB_PROJECT_ID or GOOGLE_CLOUD_PROJECT, PUBSUB_EMULATOR_HOST: the live stream and the dead
//                                   letters; unset, those two panels say they are not configured
//   KUBEFN_CONSOLE_CHANGES_SUBSCRIPTION  pull subscription on kubefn-changes (default
//                                   kubefn-console-changes)
//   KUBEFN_CONSOLE_OUTCOMES_SUBSCRIPTION pull subscription on kubefn-tenant-outcomes (default
//                                   kubefn-console-outcomes)
//   KUBEFN_DEAD_LETTER_SUBSCRIPTION the dead-letter subscription (default kubefn-dead-letter)
import { join } from 'node:path';
import * as v from 'valibot';
import { pubsubOps } from '../../infra/dead-letters.ts';
import {
  identityPlatformIssuer,
  verifyCustomerToken,
} from '../../shared/auth/identity-platform.ts';
import { type Cell, CellsSchema } from '../../shared/cells.ts';
import { commaList, envProblem, readEnv, readEnvValue } from '../../shared/env.ts';
import { metadataIdToken } from '../../shared/gcp/id-token.ts';
import { signInEndpoints } from '../../shared/http/sign-in-page.ts';
import { type TokenProvider, tokenFile } from '../../shared/kube/index.ts';
import type { ConsoleDeps } from './handler.ts';
import type { ConsoleSignIn } from './page.ts';

const subscription = (fallback: string) =>
  v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z][\w.~+%-]{2,254}$/)), fallback);

const EnvSchema = v.object({
  KUBEFN_CELLS: v.string(),
  KUBEFN_CALLER_TOKEN_DIR: v.optional(v.pipe(v.string(), v.minLength(1))),
  KUBEFN_CONSOLE_OPERATORS: v.pipe(
    commaList,
    v.minLength(1, 'at least one operator email'),
    v.check((emails) => emails.every((e) => v.is(v.pipe(v.string(), v.email()), e)), 'emails'),
    v.transform((emails) => emails.map((e) => e.toLowerCase())),
  ),
  KUBEFN_OPERATOR_PROJECT: v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/)),
  KUBEFN_OPERATOR_API_KEY: v.optional(v.pipe(v.string(), v.regex(/^[\w-]{10,100}$/))),
  KUBEFN_OPERATOR_GOOGLE_CLIENT_ID: v.optional(
    v.pipe(v.string(), v.regex(/^[\w.-]{10,200}\.apps\.googleusercontent\.com$/)),
  ),
  KUBEFN_OPERATOR_JWKS_URL: v.optional(v.pipe(v.string(), v.url())),
  KUBEFN_OPERATOR_AUTH_EMULATOR: v.optional(
    v.pipe(v.string(), v.regex(/^[\w.-]+:\d{1,5}$/, 'host:port')),
  ),
  PUBSUB_PROJECT_ID: v.optional(v.pipe(v.string(), v.minLength(1))),
  GOOGLE_CLOUD_PROJECT: v.optional(v.pipe(v.string(), v.minLength(1))),
  PUBSUB_EMULATOR_HOST: v.optional(v.pipe(v.string(), v.regex(/^[\w.-]+:\d{1,5}$/))),
  KUBEFN_CONSOLE_CHANGES_SUBSCRIPTION: subscription('kubefn-console-changes'),
  KUBEFN_CONSOLE_OUTCOMES_SUBSCRIPTION: subscription('kubefn-console-outcomes'),
  KUBEFN_DEAD_LETTER_SUBSCRIPTION: subscription('kubefn-dead-letter'),
});

export type ConsoleSettings = v.InferOutput<typeof EnvSchema> & { cells: Cell[] };

/** Throws an EnvError naming each bad variable, synchronously: the deploy fails. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): ConsoleSettings {
  const settings = readEnv('console', EnvSchema, env);
  const emulator = settings.KUBEFN_OPERATOR_AUTH_EMULATOR;
  // Unsigned tokens must never be accepted for a real project's users.
  if (emulator && !settings.KUBEFN_OPERATOR_PROJECT.startsWith('demo-'))
    throw envProblem(
      'console',
      'KUBEFN_OPERATOR_AUTH_EMULATOR',
      'unset: the Auth emulator goes only with a demo- project (KUBEFN_OPERATOR_PROJECT)',
    );
  if (!emulator && !(settings.KUBEFN_OPERATOR_API_KEY && settings.KUBEFN_OPERATOR_GOOGLE_CLIENT_ID))
    throw envProblem(
      'console',
      'KUBEFN_OPERATOR_API_KEY',
      "the project's browser API key, with KUBEFN_OPERATOR_GOOGLE_CLIENT_ID",
    );
  let json: unknown;
  try {
    json = JSON.parse(settings.KUBEFN_CELLS);
  } catch {
    throw envProblem('console', 'KUBEFN_CELLS', 'a JSON list of cells');
  }
  return { ...settings, cells: readEnvValue('console', 'KUBEFN_CELLS', CellsSchema, json) };
}

/** Where the page signs operators in: Identity Platform, or the emulator standing in for it. */
export function signInConfig(settings: ConsoleSettings): ConsoleSignIn {
  return {
    ...signInEndpoints(settings.KUBEFN_OPERATOR_API_KEY, settings.KUBEFN_OPERATOR_AUTH_EMULATOR),
    googleClientId: settings.KUBEFN_OPERATOR_GOOGLE_CLIENT_ID ?? '',
  };
}

export function depsFromEnv(env: NodeJS.ProcessEnv): ConsoleDeps {
  const e = settingsFromEnv(env);
  const dir = e.KUBEFN_CALLER_TOKEN_DIR;
  const tokens = new Map<string, TokenProvider>();
  const tokenFor = (cell: Cell) => {
    let token = tokens.get(cell.name);
    if (!token) {
      token = dir
        ? tokenFile(join(dir, `${cell.name}.token`))
        : metadataIdToken(cell.audience ?? cell.provisionUrl);
      tokens.set(cell.name, token);
    }
    return token;
  };
  const projectId = e.KUBEFN_OPERATOR_PROJECT;
  const issuer = identityPlatformIssuer({ projectId, jwksUrl: e.KUBEFN_OPERATOR_JWKS_URL });
  const emulator = e.KUBEFN_OPERATOR_AUTH_EMULATOR !== undefined;
  const pubsubProject = e.PUBSUB_PROJECT_ID ?? e.GOOGLE_CLOUD_PROJECT;
  // On the emulator there is no metadata server to look for (the library warns at each call).
  if (e.PUBSUB_EMULATOR_HOST) process.env.METADATA_SERVER_DETECTION ??= 'none';
  return {
    cells: e.cells,
    tokenFor,
    operator: (authorization) =>
      verifyCustomerToken(authorization, { projectId, issuer, emulator }),
    operators: e.KUBEFN_CONSOLE_OPERATORS,
    signIn: signInConfig(e),
    ...(pubsubProject
      ? {
          pubsub: {
            ops: pubsubOps(pubsubProject, e.PUBSUB_EMULATOR_HOST),
            changes: e.KUBEFN_CONSOLE_CHANGES_SUBSCRIPTION,
            outcomes: e.KUBEFN_CONSOLE_OUTCOMES_SUBSCRIPTION,
            deadLetters: e.KUBEFN_DEAD_LETTER_SUBSCRIPTION,
          },
        }
      : {}),
  };
}
