// Where the deployables' sources live, and how a Cloud Run container runs one: a bucket holds each
// deployable's archive (sources.ts), and every service's container is the nodejs22 base image with
// that archive unpacked and the archive's own start command. No build, no image repository, no
// build account: the revision runs exactly the bytes this program packed and hashed.
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { Context } from './context.ts';
import type { Deployable, DeploySource } from './names.ts';

export type Artifacts = ReturnType<typeof defineArtifacts>;

export function defineArtifacts(ctx: Context) {
  const { project, region, opts } = ctx;
  const bucket = new gcp.storage.Bucket(
    'sources',
    {
      project,
      name: `${project}-kubefn-sources`,
      location: region,
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      forceDestroy: false,
      // What an interrupted upload leaves goes after a day.
      lifecycleRules: [
        { action: { type: 'AbortIncompleteMultipartUpload' }, condition: { age: 1 } },
      ],
    },
    ctx.afterApis,
  );
  /**
   * The nodejs22 base image every service runs on (Cloud Run keeps it patched), from the
   * service's own region: a cell's services pull nothing from another region.
   */
  const baseImage = (at: string) =>
    `${at}-docker.pkg.dev/serverless-runtimes/google-22-full/runtimes/nodejs22`;

  // One upload per deployable, whichever cells run it.
  const objects = new Map<Deployable, gcp.storage.BucketObject>();
  const upload = (name: Deployable, source: DeploySource) => {
    const existing = objects.get(name);
    if (existing) return existing;
    const object = new gcp.storage.BucketObject(
      `source-${name}`,
      {
        bucket: bucket.name,
        name: `sources/${name}-${source.sha256}.tar.gz`,
        source: new pulumi.asset.FileAsset(source.archive),
      },
      // A replaced archive stays: an older revision (a rollback with update-traffic) may need
      // it to start again. docs/deploy.md: how to prune them.
      { ...opts, retainOnDelete: true },
    );
    objects.set(name, object);
    return object;
  };

  /**
   * A deployable's container: its uploaded archive, named after its bundle's hash (a changed
   * bundle is a new name, hence a new revision), on the base image of the service's region
   * (default the deployment's), started by its own command.
   */
  const sourceContainer = (name: Deployable, source: DeploySource, at: string = region) => {
    const object = upload(name, source);
    const [command, ...args] = source.command;
    return {
      // No image of its own: the base image and the archive are the container.
      image: 'scratch',
      baseImageUri: baseImage(at),
      commands: [command as string],
      args,
      sourceCode: {
        cloudStorageSource: {
          bucket: bucket.name,
          object: object.name,
          generation: object.generation.apply(String),
        },
      },
    };
  };

  return { sourceContainer };
}
