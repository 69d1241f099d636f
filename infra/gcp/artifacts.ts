// Where sources and images live: a bucket for the uploaded bundles, an Artifact Registry
// repository for the images Cloud Run builds from them, and the build account's grants on both.
import * as gcp from '@pulumi/gcp';
import type * as pulumi from '@pulumi/pulumi';
import type { Accounts } from './accounts.ts';
import type { Context } from './context.ts';
import type { Deployable } from './names.ts';

export type Artifacts = ReturnType<typeof defineArtifacts>;

export function defineArtifacts(ctx: Context, accounts: Accounts) {
  const { project, region, opts, member } = ctx;
  const bucket = new gcp.storage.Bucket(
    'sources',
    {
      project,
      name: `${project}-kubefn-sources`,
      location: region,
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      forceDestroy: false,
      // A changed bundle is a new object, and Pulumi deletes the one it replaces once the
      // service has moved on; what an interrupted upload leaves goes after a day.
      lifecycleRules: [
        { action: { type: 'AbortIncompleteMultipartUpload' }, condition: { age: 1 } },
      ],
    },
    ctx.afterApis,
  );
  const repository = new gcp.artifactregistry.Repository(
    'images',
    {
      project,
      location: region,
      repositoryId: 'kubefn',
      format: 'DOCKER',
      description: 'Images Cloud Run builds from the functions sources',
      cleanupPolicyDryRun: false,
      // Every deploy builds an image: keep the last ten (rollback), drop older ones.
      cleanupPolicies: [
        { id: 'keep-recent', action: 'KEEP', mostRecentVersions: { keepCount: 10 } },
        {
          id: 'delete-old',
          action: 'DELETE',
          condition: { tagState: 'ANY', olderThan: '2592000s' }, // 30 days
        },
      ],
    },
    ctx.afterApis,
  );
  const buildGrants = [
    new gcp.storage.BucketIAMMember(
      'build-reads-sources',
      { bucket: bucket.name, role: 'roles/storage.objectViewer', member: member(accounts.build) },
      opts,
    ),
    new gcp.artifactregistry.RepositoryIamMember(
      'build-writes-images',
      {
        project,
        location: region,
        repository: repository.repositoryId,
        role: 'roles/artifactregistry.writer',
        member: member(accounts.build),
      },
      opts,
    ),
    // Cloud Build writes its logs as the build account; there is no narrower resource for it.
    new gcp.projects.IAMMember(
      'build-writes-logs',
      { project, role: 'roles/logging.logWriter', member: member(accounts.build) },
      opts,
    ),
  ];

  return {
    bucket,
    repository,
    buildGrants,
    /** The nodejs22 base image Cloud Run builds on and runs. */
    baseImage: `${region}-docker.pkg.dev/serverless-runtimes/google-22-full/runtimes/nodejs22`,
    /**
     * An uploaded source, named after its bundle's hash: a changed bundle is a new name, hence
     * a new source location and a new revision (a constant name would leave the old code running).
     */
    sourceObject: (
      name: Deployable,
      sha256: string,
      extension: string,
      source: pulumi.asset.Asset | pulumi.asset.Archive,
    ) =>
      new gcp.storage.BucketObject(
        `source-${name}`,
        { bucket: bucket.name, name: `sources/${name}-${sha256}.${extension}`, source },
        opts,
      ),
  };
}
