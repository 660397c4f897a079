#!/usr/bin/env node
// The CDK app: one driftloop stack, checked by cdk-nag's AWS Solutions rules on synth.
//   DRIFTLOOP_FUNCTIONS_DIR  where infra/build-functions put <name>/bootstrap
//                            (default: ../target/lambda beside this folder)
//   DRIFTLOOP_DATASET        a dataset file to pack with the functions (default: none, the
//                            shipped dataset embedded in the binaries)
//   DRIFTLOOP_WANDB_PROJECT  write every training as an offline W&B run into the store under
//                            tracking/wandb/, for this W&B project (default: none written)
//   DRIFTLOOP_WANDB_ENTITY   the W&B team or user of those runs (default: the key's own)

import * as path from 'node:path';

import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

import { DriftloopStack } from '../lib/driftloop-stack';

const repo = path.resolve(__dirname, '..', '..');
const app = new App();
new DriftloopStack(app, 'Driftloop', {
  functionsDir: process.env.DRIFTLOOP_FUNCTIONS_DIR ?? path.join(repo, 'target', 'lambda'),
  sqlDir: path.join(repo, 'sql', 'mysql'),
  datasetFile: process.env.DRIFTLOOP_DATASET ? path.resolve(process.env.DRIFTLOOP_DATASET) : undefined,
  wandb: process.env.DRIFTLOOP_WANDB_PROJECT
    ? { project: process.env.DRIFTLOOP_WANDB_PROJECT, entity: process.env.DRIFTLOOP_WANDB_ENTITY || undefined }
    : undefined,
  description: 'driftloop: predict, drift and train functions over RDS MySQL and S3',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
