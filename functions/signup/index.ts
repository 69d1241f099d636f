// Entry point for the Functions Framework (target "signup").
//   KUBEFN_PROVISION_URL         the provisioning function's URL
//   KUBEFN_PROVISION_AUDIENCE    the audience it expects (defaults to its URL)
//   KUBEFN_CALLER_TOKEN_FILE     a token file to present (local stack); otherwise an ID token
//                                from the metadata server, as on Cloud Run
import * as ff from '@google-cloud/functions-framework';
import { metadataIdToken } from '../../shared/gcp/id-token.ts';
import { asHttpFunction } from '../../shared/http/functions-framework.ts';
import { tokenFile } from '../../shared/kube/index.ts';
import { createApp } from './app.ts';

const provisionUrl = (process.env.KUBEFN_PROVISION_URL ?? '').replace(/\/+$/, '');
if (!provisionUrl) throw new Error('KUBEFN_PROVISION_URL is not set');
const tokenPath = process.env.KUBEFN_CALLER_TOKEN_FILE;
const token = tokenPath
  ? tokenFile(tokenPath)
  : metadataIdToken(process.env.KUBEFN_PROVISION_AUDIENCE ?? provisionUrl);

ff.http('signup', asHttpFunction(createApp({ provisionUrl, token }).fetch));
