// Entry point for the Functions Framework (target "provision"): the only file that imports it.
import * as ff from '@google-cloud/functions-framework';
import { getRequestListener } from '@hono/node-server';
import { createApp } from './app.ts';
import { depsFromEnv } from './config.ts';

ff.http('provision', getRequestListener(createApp(depsFromEnv(process.env)).fetch));
