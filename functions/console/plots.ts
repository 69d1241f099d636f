// The console's two plots over the last hours, from what the tenants' rows already carry: time to
// ready (readyAt - acceptedAt, placed at readyAt) and heal latency (each tenant's last repair by
// self-healing, placed at its time). Points outside the window, or without a figure, are left
// out; each series is in time order. The page draws them as inline SVG.

export type Point = { at: string; ms: number; customerId: string; cell: string };
export type Plots = { hours: number; timeToReady: Point[]; healLatency: Point[] };

type Row = {
  customerId: string;
  cell: string;
  readyAt?: string | undefined;
  timeToReadyMs?: number | undefined;
  lastRepair?: { at: string; by: string; latencyMs?: number | undefined } | undefined;
};

export function plotSeries(rows: readonly Row[], now: Date, hours: number): Plots {
  const since = now.getTime() - hours * 3600_000;
  const inWindow = (at: string | undefined) => {
    const t = Date.parse(at ?? '');
    return Number.isFinite(t) && t >= since && t <= now.getTime();
  };
  const byTime = (a: Point, b: Point) => Date.parse(a.at) - Date.parse(b.at);
  const timeToReady = rows
    .filter((r) => r.timeToReadyMs !== undefined && inWindow(r.readyAt))
    .map((r) => ({
      at: r.readyAt as string,
      ms: r.timeToReadyMs as number,
      customerId: r.customerId,
      cell: r.cell,
    }))
    .sort(byTime);
  const healLatency = rows
    .filter(
      (r) =>
        r.lastRepair?.by === 'heal' &&
        r.lastRepair.latencyMs !== undefined &&
        inWindow(r.lastRepair.at),
    )
    .map((r) => ({
      at: r.lastRepair?.at as string,
      ms: r.lastRepair?.latencyMs as number,
      customerId: r.customerId,
      cell: r.cell,
    }))
    .sort(byTime);
  return { hours, timeToReady, healLatency };
}
