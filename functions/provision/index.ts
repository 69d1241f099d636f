// Entry point for the Functions Framework (target "provision"): the only file that imports it.
import * as ff from '@google-cloud/functions-framework';
import { asHttpFunction } from '../../shared/http/functions-framework.ts';
import { createApp } from './app.ts';
import { depsFromEnv } from './config.ts';

ff.http('provision', asHttpFunction(createApp(depsFromEnv(process.env)).fetch));
