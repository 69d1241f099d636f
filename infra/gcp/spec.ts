// The deployment spec: everything one kubefn deployment on Google Cloud depends on, as one typed
// and validated value. A stack's config is read into it in one place (index.ts, config key
// `kubefn:deployment`); the program (kubefn.ts) is a function of it and of the bundles only.
import * as v from 'valibot';
import { timeoutModes } from '../../functions/ingress-timeout/outcomes.ts';
import { allowList } from '../../shared/auth/index.ts';
import { CellNameSchema, defaultCellCapacity, RegionSchema } from '../../shared/cells.ts';
import { clusterEnvEntries } from '../../shared/kube/index.ts';
import { provisionCapacity } from './names.ts';
import { tracingModes } from './tracing.ts';

// A Google project id: 6-30 lowercase letters, digits and hyphens, starting with a letter.
const projectId = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a project id'));
// Cloud Scheduler's unix-cron: five fields.
const cron = v.pipe(v.string(), v.regex(/^\S+( \S+){4}$/, 'a five-field cron schedule'));
// A tz database name, as Cloud Scheduler takes it: Node's ICU knows the same database, so a typo
// fails here, not at `pulumi up`.
const timeZone = v.pipe(
  v.string(),
  v.check((zone) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone });
      return zone.length > 0;
    } catch {
      return false;
    }
  }, 'a time zone of the tz database, such as Europe/Paris or Etc/UTC'),
);
// Principals the program grants roles to, as `serviceAccount:<email>`: IAM refuses that prefix
// for anything but a Google service account, so only those are accepted (a Kubernetes service
// account, valid in an allow-list elsewhere, cannot be granted in IAM at all).
const googleServiceAccounts = v.pipe(
  allowList,
  v.check(
    (emails) => emails.every((email) => /^[^@\s]+@[a-z0-9.-]+\.gserviceaccount\.com$/.test(email)),
    'each entry must be a Google service-account email (name@project.iam.gserviceaccount.com)',
  ),
);

export const DeploymentSpecSchema = v.strictObject({
  project: projectId,
  /** The global part's region: the sign-up page and backend, placement, the sources bucket. */
  region: RegionSchema,
  /**
   * The cells (shared/cells.ts): each one cluster, with its own provision, label, ingress-timeout
   * and watcher in its region. A tenant lives in one cell; placement picks it.
   */
  cells: v.pipe(
    v.array(
      v.strictObject({
        /** Put on every change message and in every per-cell name (KUBEFN_CELL). */
        name: CellNameSchema,
        /** Where the cell's deployables run and its tenants' data lives; customers pick it. */
        region: RegionSchema,
        /** The DNS-based control-plane endpoint, https://gke-<id>.<region>.gke.goog. */
        endpoint: v.pipe(v.string(), v.url(), v.startsWith('https://')),
        /** Only if the endpoint's certificate is not publicly trusted: PEM or base64 PEM. */
        caCertificate: v.optional(clusterEnvEntries.KUBEFN_CLUSTER_CA),
        /**
         * The GKE cluster's name and location (its region, or a zone for a zonal cluster;
         * default the cell's region): the cell's accounts may connect to this cluster only
         * (an IAM condition on its resource name, accounts.ts).
         */
        gkeCluster: v.pipe(
          v.string(),
          v.regex(/^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/, 'a GKE cluster name'),
        ),
        gkeLocation: v.optional(
          v.pipe(v.string(), v.regex(/^[a-z]+-[a-z]+\d+(-[a-z])?$/, 'a region or zone')),
        ),
        /**
         * Tenants placed here at most (placement's KUBEFN_CELLS; 0: drained, nothing new), and the cell's provision's own
         * ceiling as a backstop (KUBEFN_MAX_TENANTS).
         */
        capacity: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), defaultCellCapacity),
      }),
    ),
    v.minLength(1, 'at least one cell'),
    v.check(
      (cells) => new Set(cells.map((c) => c.name)).size === cells.length,
      'each cell named once',
    ),
    v.check(
      (cells) => new Set(cells.map((c) => c.endpoint)).size === cells.length,
      'each cell its own cluster (endpoints differ)',
    ),
  ),
  /** Placement's store: a Firestore database in native mode (created here). */
  placement: v.optional(
    v.strictObject({
      /** Its id: "(default)" or 4-63 lowercase letters, digits and dashes. */
      database: v.optional(
        v.pipe(
          v.string(),
          v.regex(/^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$/, 'a Firestore database id'),
        ),
        '(default)',
      ),
      /**
       * A Firestore location: a region (europe-west1) or a multi-region (eur3, nam5); default
       * the deployment's region. Cannot change once the database exists.
       */
      location: v.optional(
        v.pipe(
          v.string(),
          v.regex(
            /^([a-z]+-[a-z]+\d+|[a-z]+\d+)$/,
            'a Firestore location such as europe-west1 or eur3',
          ),
        ),
      ),
    }),
    {},
  ),
  /**
   * Prefix of every function's custom audience: provision's is `<audienceBase>/provision`. Any
   * stable https URL; it need not resolve (the audience is a name, not an address).
   */
  audienceBase: v.pipe(
    v.string(),
    v.url(),
    v.startsWith('https://'),
    v.transform((url) => url.replace(/\/+$/, '')),
  ),
  /** How ingress-timeout applies a timeout: BackendConfig (GKE's way) or the Compute API. */
  timeoutMode: v.optional(v.picklist(timeoutModes), 'backendconfig'),
  /** compute mode: the region of internal (gce-internal) load balancers, if any. */
  computeRegion: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Service-account emails that may call POST /labels, and publish label requests. */
  labelCallers: v.optional(googleServiceAccounts, ''),
  /** Service-account emails that may call POST /ingresses/:ns/:name. */
  ingressTimeoutCallers: v.optional(googleServiceAccounts, ''),
  /**
   * Service-account emails that may publish tenant requests (billing, CRM: sign up, change plan,
   * suspend, resume, cancel) to kubefn-tenant-requests, for placement's /pubsub/tenants.
   */
  tenantRequestPublishers: v.optional(googleServiceAccounts, ''),
  /**
   * Service-account emails that may list, approve and drop the deletions the deletion budget
   * holds (every cell's provision GET /deletions, POST /deletions/approve and /drop:
   * KUBEFN_ALLOW_OPERATOR). A person calls as one by impersonating it (docs/tenants.md).
   */
  operators: v.optional(googleServiceAccounts, ''),
  /**
   * The operator console (functions/console), deployed when given: the people's Google emails it
   * admits (`operators`), who sign in with Google through Identity Platform: its project (this
   * one unless given), its browser API key, and the OAuth client id of Google's sign-in button.
   */
  console: v.optional(
    v.strictObject({
      operators: v.pipe(v.array(v.pipe(v.string(), v.email())), v.minLength(1)),
      apiKey: v.pipe(v.string(), v.regex(/^[\w-]{10,100}$/, 'an API key')),
      googleClientId: v.pipe(
        v.string(),
        v.regex(/^[\w.-]{10,200}\.apps\.googleusercontent\.com$/, 'an OAuth client id'),
      ),
      project: v.optional(projectId),
    }),
  ),
  schedules: v.optional(
    v.strictObject({
      provisionResync: v.optional(cron, '17 * * * *'),
      ingressTimeoutResync: v.optional(cron, '*/15 * * * *'),
      /**
       * Placement's round: at most 5 moves for each cell being drained, and the records of
       * tenants whose held deletion their cell has since done forgotten.
       */
      placementResync: v.optional(cron, '* * * * *'),
      timeZone: v.optional(timeZone, 'Etc/UTC'),
    }),
    {},
  ),
  /**
   * Customers sign in with Identity Platform (enabled by hand: docs/deploy.md): its
   * project (this one unless given) and the browser API key the sign-up page sends with every
   * Identity Platform call (public by design; restrict it to the Identity Toolkit and Token
   * Service APIs and to the sign-up page's address).
   */
  customerSignIn: v.strictObject({
    apiKey: v.pipe(v.string(), v.regex(/^[\w-]{10,100}$/, 'an API key')),
    project: v.optional(projectId),
  }),
  /**
   * Minimum instances of placement and of each cell's provisioning function (1 keeps sign-up
   * free of cold starts); at most their maximum (names.ts), which Cloud Run refuses to pass.
   */
  provisionMinInstances: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(provisionCapacity.maxInstances)),
    0,
  ),
  /**
   * Spans to Cloud Trace (tracing.ts, docs/tracing.md): every deployable's KUBEFN_TRACING and its
   * account's roles/cloudtrace.agent. Off: the log lines' trace fields only.
   */
  tracing: v.optional(v.picklist(tracingModes), 'off'),
  /**
   * The alert policies (alerts.ts): the notification channels they notify (Cloud Monitoring's
   * projects/P/notificationChannels/ID, made in the console or elsewhere; none: incidents open in
   * the console only) and the goal time to ready is held to at p99.
   */
  monitoring: v.optional(
    v.strictObject({
      notificationChannels: v.optional(
        v.array(
          v.pipe(
            v.string(),
            v.regex(
              /^projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/notificationChannels\/\d+$/,
              'projects/<project>/notificationChannels/<id>',
            ),
          ),
        ),
        [],
      ),
      timeToReadyGoalSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 120),
    }),
    {},
  ),
  /** Cloud Run services refuse deletion while true: turn off first to tear the stack down. */
  deletionProtection: v.optional(v.boolean(), true),
});

export type DeploymentSpec = v.InferOutput<typeof DeploymentSpecSchema>;
export type CellSpec = DeploymentSpec['cells'][number];

/** Validates the raw config; the error names each bad field (path and expectation). */
export function readSpec(raw: unknown): DeploymentSpec {
  const result = v.safeParse(DeploymentSpecSchema, raw);
  if (result.success) return result.output;
  const problems = result.issues.map(
    (issue) => `${v.getDotPath(issue) ?? 'deployment'}: ${issue.message}`,
  );
  throw new Error(`kubefn:deployment config: ${problems.join('; ')}`);
}
