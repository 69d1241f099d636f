// Cells: kubefn beyond one cluster. A cell is one cluster with the deployables that act on it
// (provision, label, ingress-timeout, a watcher); each knows only its own cluster and its own
// name (KUBEFN_CELL), which the watcher puts on every change message (attribute `cluster`) and
// each cell's push subscriptions filter on. The global part (the sign-up page and backend, and
// placement: functions/placement) knows every cell from KUBEFN_CELLS, a JSON list of `Cell`.
import * as v from 'valibot';

/**
 * 1-12 lowercase letters, digits and inner dashes. Short because it goes into names with a
 * limit: a cell's Cloud Run services (`kubefn-<cell>-ingress-timeout`, at most 49), its service
 * accounts (at most 30) and its subscriptions' filters (at most 256 bytes, infra/subscriptions.ts).
 */
export const CellNameSchema = v.pipe(
  v.string(),
  v.regex(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/, '1-12 lowercase letters, digits and inner dashes'),
);

/** A single-cell deployment's, and the local stack's, cell when none is named. */
export const defaultCellName = 'local';

/** KUBEFN_CELL, for the env schema of every deployable that acts on one cell's cluster. */
export const cellEnvEntries = { KUBEFN_CELL: v.optional(CellNameSchema, defaultCellName) };

/**
 * Tenants a cell takes by default: half of Kubernetes' scalability thresholds of 10,000
 * namespaces and 10,000 Services per cluster, with one namespace and one Service per tenant
 * (the built-in bundle, functions/provision/templates/bundle.json). Headroom for what else the
 * cluster runs, and for a move's second copy of a tenant.
 */
export const defaultCellCapacity = 5000;

/** Where customers' data may live: a Google Cloud region's name, which the page shows. */
export const RegionSchema = v.pipe(
  v.string(),
  v.regex(/^[a-z]+-[a-z]+\d+$/, 'a region such as europe-west1'),
);

export const CellSchema = v.strictObject({
  name: CellNameSchema,
  region: RegionSchema,
  /** The cell's provisioning function: placement forwards the tenant's requests there. */
  provisionUrl: v.pipe(
    v.string(),
    v.url(),
    v.transform((url) => url.replace(/\/+$/, '')),
  ),
  /** The audience that function expects in an ID token; defaults to its URL. */
  audience: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Tenants placed here at most. */
  capacity: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), defaultCellCapacity),
});
export type Cell = v.InferOutput<typeof CellSchema>;

export const CellsSchema = v.pipe(
  v.array(CellSchema),
  v.minLength(1, 'at least one cell'),
  v.check(
    (cells) => new Set(cells.map((c) => c.name)).size === cells.length,
    'each cell named once',
  ),
);

/** The regions customers may choose, in the order the cells are listed. */
export const regionsOf = (cells: readonly Cell[]): string[] => [
  ...new Set(cells.map((c) => c.region)),
];
