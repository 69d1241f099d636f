// Where build.sh puts the control plane's binaries (etcd, kube-*, kwok) and kwok's Stage files.
import { join, resolve } from 'node:path';

export const repositoryRoot = resolve(import.meta.dirname, '../..');

export const binDir = join(
  process.env.KUBEFN_CACHE ?? join(repositoryRoot, '.cache/controlplane'),
  'bin',
);
