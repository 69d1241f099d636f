// The Pulumi program (Pulumi.yaml beside it): reads the stack's config once, builds the
// deployables' bundles, and defines the deployment (kubefn.ts). Everything that decides what is
// deployed is in kubefn.ts, tested offline; this file only gathers its inputs.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { buildFunctions } from '../build-functions.ts';
import { defineKubefn } from './kubefn.ts';
import { deploySources } from './sources.ts';
import { readSpec } from './spec.ts';

const spec = readSpec(new pulumi.Config('kubefn').requireObject('deployment'));
const outDir = resolve(import.meta.dirname, '../../dist/gcp');
await mkdir(outDir, { recursive: true });
const bundles = await buildFunctions(undefined, { outDir: join(outDir, 'functions') });
const kubefn = defineKubefn(spec, await deploySources(bundles, { outDir }));

export const urls = {
  signup: kubefn.services.signup.uri,
  placement: kubefn.services.placement.uri,
  ...(kubefn.services.console ? { console: kubefn.services.console.uri } : {}),
  cells: Object.fromEntries(
    Object.entries(kubefn.services.cells).map(([cell, services]) => [
      cell,
      {
        provision: services.provision?.uri,
        label: services.label?.uri,
        ingressTimeout: services['ingress-timeout']?.uri,
      },
    ]),
  ),
};
export const audiences = kubefn.audiences;
const { cells: cellAccounts, cell: _, ...globalAccounts } = kubefn.accounts;
export const serviceAccounts = {
  ...Object.fromEntries(
    Object.entries(globalAccounts).flatMap(([name, account]) =>
      account ? [[name, account.email]] : [],
    ),
  ),
  cells: Object.fromEntries(
    Object.entries(cellAccounts).map(([cell, accounts]) => [
      cell,
      Object.fromEntries(Object.entries(accounts).map(([name, a]) => [name, a.email])),
    ]),
  ),
};
export const topics = {
  changes: kubefn.topics.changes.name,
  tenantRequests: kubefn.topics.tenantRequests.name,
  deadLetter: kubefn.topics.deadLetter.name,
};
export const placementDatabase = kubefn.store.name;
