// Entry point for the Functions Framework (target "console"); settings in config.ts.
import * as ff from '@google-cloud/functions-framework';
import { asFrameworkFunction } from '../../shared/http/functions-framework.ts';
import { createApp } from './app.ts';
import { depsFromEnv } from './config.ts';

ff.http('console', asFrameworkFunction(createApp(depsFromEnv(process.env)).fetch));
