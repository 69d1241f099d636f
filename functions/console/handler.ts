// The operator console's logic: (input, deps) -> result; no Hono, no process.env. Reads go to
// each cell's provision operator routes (GET /all-tenants, GET /deletions) with the console's own
// identity, in parallel; a cell that does not answer is shown as unavailable, its tenants left
// out, never failing the page. Decisions go to the one cell named. The dead letters and the live
// stream are Pub/Sub's, through infra/dead-letters.ts's operations (the same reads, replays and
// acknowledgements as `npm run dead-letters`).

import { type Command, type PubsubOps, runCommand } from '../../infra/dead-letters.ts';
import type { Customer } from '../../shared/auth/identity-platform.ts';
import type { Cell } from '../../shared/cells.ts';
import { DomainError } from '../../shared/errors.ts';
import { callFunction, type FunctionAnswer } from '../../shared/http/call-function.ts';
import type { TokenProvider } from '../../shared/kube/index.ts';
import type { Logger } from '../../shared/log.ts';
import type { ConsoleSignIn } from './page.ts';
import { plotSeries } from './plots.ts';

export type ConsolePubsub = {
  ops: PubsubOps;
  /** Pull subscriptions: on kubefn-changes, on kubefn-tenant-outcomes, and the dead letters. */
  changes: string;
  outcomes: string;
  deadLetters: string;
};

export type ConsoleDeps = {
  cells: readonly Cell[];
  /** The console's ID token for a cell's provision (its audience). */
  tokenFor: (cell: Cell) => TokenProvider;
  /** The signed-in person an Authorization header names (Identity Platform); AuthError if none. */
  operator: (authorization: string | undefined) => Promise<Customer>;
  /** Operators' emails, lower case. */
  operators: readonly string[];
  signIn: ConsoleSignIn;
  pubsub?: ConsolePubsub;
  log?: Logger;
  now?: () => Date;
};

export type Refusal = 'not-google' | 'email-not-verified' | 'not-an-operator';

/**
 * Why a signed-in person is not an operator; undefined when they are: signed in with Google (not
 * a password account someone made with an operator's address), the email verified, on the list.
 */
export function operatorRefusal(who: Customer, operators: readonly string[]): Refusal | undefined {
  if (who.signInProvider !== 'google.com') return 'not-google';
  if (!who.emailVerified || !who.email) return 'email-not-verified';
  return operators.includes(who.email.toLowerCase()) ? undefined : 'not-an-operator';
}

type CellRow = Record<string, unknown> & { customerId: string };
export type CellView = { name: string; region: string; up: boolean; tenants: number };

/** Every cell's answer to one operator read, each row with its cell and region. */
async function fromEveryCell(deps: ConsoleDeps, path: string, key: 'tenants' | 'held') {
  const answers = await Promise.all(
    deps.cells.map(async (cell) => {
      try {
        const answer = await ask(deps, cell, 'GET', path);
        if (answer.status !== 200) throw new Error(`answered ${answer.status}`);
        const rows = ((JSON.parse(answer.text) as Record<string, unknown>)[key] ?? []) as CellRow[];
        return {
          cell,
          up: true,
          rows: rows.map((r) => ({ ...r, cell: cell.name, region: cell.region })),
        };
      } catch {
        return { cell, up: false, rows: [] };
      }
    }),
  );
  return {
    cells: answers.map(({ cell, up, rows }) => ({
      name: cell.name,
      region: cell.region,
      up,
      [key]: rows.length,
    })),
    rows: answers.flatMap((a) => a.rows),
  };
}

/** Whether a tenant's row matches the search: any of its words, case-insensitive. */
export function matches(row: Record<string, unknown>, search: string): boolean {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const owners = Array.isArray(row.owners) ? row.owners : [];
  const text = [
    row.customerId,
    row.namespace,
    row.plan,
    row.phase,
    row.cell,
    row.region,
    row.ownerUid,
    row.movingTo,
    ...owners,
  ]
    .filter((part) => typeof part === 'string')
    .join(' ')
    .toLowerCase();
  return words.every((word) => text.includes(word));
}

/** Every tenant of every cell, those matching `search`, and the plots of the last `hours`. */
export async function tenantsView(deps: ConsoleDeps, search: string, hours: number) {
  const { cells, rows } = await fromEveryCell(deps, '/all-tenants', 'tenants');
  const tenants = rows.filter((row) => matches(row, search));
  const now = deps.now?.() ?? new Date();
  return {
    cells: cells as unknown as CellView[],
    tenants,
    plots: plotSeries(rows as never, now, hours),
  };
}

/** Every cell's held deletions. */
export async function heldView(deps: ConsoleDeps) {
  const { cells, rows } = await fromEveryCell(deps, '/deletions', 'held');
  return { cells, held: rows };
}

/** A decision on held deletions, in the cell that holds them: that cell's answer. */
export function decideDeletions(
  deps: ConsoleDeps,
  cellName: string,
  decision: 'approve' | 'drop',
  customerIds: string[],
): Promise<FunctionAnswer> {
  const cell = deps.cells.find((c) => c.name === cellName);
  if (!cell) throw new DomainError('invalid-input', `there is no cell ${cellName}`);
  return ask(deps, cell, 'POST', `/deletions/${decision}`, { customerIds });
}

function ask(deps: ConsoleDeps, cell: Cell, method: string, path: string, body?: unknown) {
  return callFunction(
    { url: cell.provisionUrl, token: deps.tokenFor(cell) },
    { method, path, ...(body === undefined ? {} : { body }) },
    () =>
      new DomainError('cell-unavailable', `cell ${cell.name} is not answering now`, undefined, {
        retryable: true,
      }),
  );
}

/** At most this many dead letters are read for a list or a replay. */
export const deadLetterMax = 100;

/** The dead letters (what identifies each, never its data), through the command's own run. */
export async function deadLetterList(pubsub: ConsolePubsub) {
  const lines = await run(pubsub, {
    command: 'list',
    subscription: pubsub.deadLetters,
    attributes: [],
    max: deadLetterMax,
    dryRun: false,
  });
  return { messages: lines };
}

/** Publishes the picked dead letters again to their source topics; each one's outcome. */
export async function replayDeadLetters(pubsub: ConsolePubsub, messageIds: string[]) {
  const lines = await run(pubsub, {
    command: 'replay',
    subscription: pubsub.deadLetters,
    attributes: [],
    max: deadLetterMax,
    dryRun: false,
    messageIds,
  });
  const done = new Set(lines.map((l) => l.messageId));
  return {
    outcomes: [
      ...lines,
      ...messageIds
        .filter((id) => !done.has(id))
        .map((messageId) => ({ messageId, outcome: 'not-found' })),
    ],
  };
}

async function run(pubsub: ConsolePubsub, command: Command) {
  const lines: Record<string, unknown>[] = [];
  await runCommand(command, pubsub.ops, {
    out: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
    err: () => {},
  });
  return lines;
}

export type StreamLimits = {
  /** How long one stream lasts before it ends (the page opens another). */
  maxMs: number;
  /** Pause between pulls when nothing came. */
  pollMs: number;
  /** Messages per pull, per subscription. */
  batch: number;
};
export const streamLimits: StreamLimits = { maxMs: 5 * 60_000, pollMs: 1_000, batch: 50 };

/** What the stream shows of a message: its attributes (kind, name, type, cell...), never its data. */
function event(
  kind: 'change' | 'outcome',
  m: { messageId: string; attributes: Record<string, string>; publishTime: string | undefined },
) {
  const a = m.attributes;
  const shown =
    kind === 'change'
      ? {
          type: a.type,
          kind: a.kind,
          namespace: a.namespace,
          name: a.name,
          cell: a.cluster,
          managed: a.managed === 'true',
        }
      : { type: a['ce-type'], subject: a['ce-subject'], source: a['ce-source'], id: a['ce-id'] };
  return `event: ${kind}\ndata: ${JSON.stringify({ messageId: m.messageId, publishTime: m.publishTime, ...shown })}\n\n`;
}

/**
 * Server-Sent Events of the changes the watchers publish and the tenant outcomes provision
 * publishes, pulled from the console's own subscriptions and acknowledged once sent. Bounded:
 * it ends after `maxMs` (the page reconnects), and stops pulling when the reader goes away.
 * Operators' pages share the subscriptions: with two open, each sees part of the messages.
 */
export function changeStream(
  pubsub: ConsolePubsub,
  limits: StreamLimits = streamLimits,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let stopped = false;
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      const ends = Date.now() + limits.maxMs;
      controller.enqueue(encoder.encode(`retry: 2000\nevent: open\ndata: {}\n\n`));
      while (!stopped && Date.now() < ends) {
        let sent = 0;
        for (const [kind, subscription] of [
          ['change', pubsub.changes],
          ['outcome', pubsub.outcomes],
        ] as const) {
          try {
            const messages = await pubsub.ops.pull(subscription, limits.batch);
            if (stopped) return;
            for (const m of messages) controller.enqueue(encoder.encode(event(kind, m)));
            await pubsub.ops.acknowledge(
              subscription,
              messages.map((m) => m.ackId),
            );
            sent += messages.length;
          } catch {
            // One failed pull is said and the stream goes on: the next may succeed.
            controller.enqueue(
              encoder.encode(
                `event: problem\ndata: {"subscription":${JSON.stringify(subscription)}}\n\n`,
              ),
            );
          }
        }
        if (sent === 0) await new Promise((resolve) => setTimeout(resolve, limits.pollMs));
      }
      if (!stopped) controller.close();
    },
    cancel() {
      stopped = true;
    },
  });
}
