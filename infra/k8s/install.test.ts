// The RBAC install per cell's cluster: with --cell, every binding names that cell's Google
// accounts (infra/gcp/names.ts, the accounts infra/gcp creates) and nothing of another cell, so
// nothing of one cell can act on another's cluster. Offline: the manifests, and the arguments
// refused before any cluster is reached.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clusterIdentities } from '../../shared/identities.ts';
import { cellAccountEmail } from '../gcp/names.ts';
import { cellSubjects, install } from './install.ts';
import { rbacManifests } from './rbac.ts';

const project = 'kubefn-prod';
const google = [{ kind: 'google', project }] as const;

/** Every subject of every binding in the manifests. */
async function boundSubjects(cell: string) {
  const objects = await rbacManifests([...google], cellSubjects([...google], cell));
  const bindings = objects.filter(
    (o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding',
  );
  expect(bindings.length).toBeGreaterThan(0);
  return bindings.flatMap((b) => {
    const subjects = (b as { subjects?: { kind: string; name: string }[] }).subjects ?? [];
    expect(subjects.length, `${b.kind} ${b.metadata?.name} binds someone`).toBeGreaterThan(0);
    return subjects;
  });
}

describe("a cell cluster's RBAC (--subjects google:<project> --cell <name>)", () => {
  it.each(['eu1', 'us1', 'abcdefghij-l'])('binds only the accounts of cell %s', async (cell) => {
    const own = new Set(clusterIdentities.map((i) => cellAccountEmail(cell, i, project)));
    const subjects = await boundSubjects(cell);
    for (const subject of subjects) {
      expect(subject.kind).toBe('User');
      expect(own, subject.name).toContain(subject.name);
    }
    // Every identity is bound somewhere: the cell's deployables can all work.
    expect(new Set(subjects.map((s) => s.name))).toEqual(own);
  });

  it('binds no account of another cell, nor the accounts of before cells', async () => {
    const eu1 = new Set((await boundSubjects('eu1')).map((s) => s.name));
    const us1 = new Set((await boundSubjects('us1')).map((s) => s.name));
    expect([...eu1].filter((name) => us1.has(name))).toEqual([]);
    expect([...eu1].join(' ')).not.toMatch(
      /(^| )kubefn-(provision|label|ingress-timeout|watcher)@/,
    );
  });

  it('keeps ServiceAccount subjects as they are (in-cluster identities are not per cell)', () => {
    const subjects = cellSubjects([{ kind: 'serviceaccounts' }, ...google], 'eu1');
    expect(subjects.label.map((s) => s.kind)).toEqual(['ServiceAccount', 'User']);
    expect(subjects.label[1]?.name).toBe(cellAccountEmail('eu1', 'label', project));
  });
});

describe('install refuses, before reaching any cluster', () => {
  afterEach(() => vi.restoreAllMocks());
  it.each([
    ['google: without --cell', ['--subjects', `google:${project}`]],
    ['--cell without google:', ['--subjects', 'serviceaccounts', '--cell', 'eu1']],
    ['a bad cell name', ['--subjects', `google:${project}`, '--cell', 'EU_1']],
    ['a cell name too long', ['--subjects', `google:${project}`, '--cell', 'abcdefghijklm']],
    ['no --subjects', ['--cell', 'eu1']],
  ])('%s', async (_, argv) => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await install(argv)).toBe(2);
    expect(error).toHaveBeenCalled();
  });
});
