// The CDK app's checks: the template's security and wiring (Template assertions), and
// cdk-nag's AWS Solutions rules with no unacknowledged finding. The function assets are
// stand-in files here; `cdk synth` in the test command packs the real binaries.

import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';

import { DATASET_PATH, DriftloopStack, FUNCTIONS } from '../lib/driftloop-stack';

const repo = path.resolve(__dirname, '..', '..');

function standInFunctions(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftloop-functions-'));
  for (const name of FUNCTIONS) {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'bootstrap'), `#!/bin/sh\n# stand-in for ${name}\n`);
  }
  return dir;
}

interface Violation {
  ruleName: string;
  violatingConstructs: { constructPath: string }[];
}

/** Synthesizes with cdk-nag and returns the unacknowledged findings of every plugin. */
function synthWithNag(build: (app: App) => void): Violation[] {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftloop-cdk-out-'));
  const app = new App({ outdir });
  build(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    app.synth();
  } catch {
    // Findings fail the synthesis; the report below lists them.
  }
  const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
  return report.pluginReports.flatMap((p: { violations: Violation[] }) => p.violations);
}

const stack = new DriftloopStack(new App(), 'Driftloop', {
  functionsDir: standInFunctions(),
  sqlDir: path.join(repo, 'sql', 'mysql'),
});
const template = Template.fromStack(stack);
const ourRoles = ['Predict', 'Drift', 'Train', 'Migrate'].map((id) =>
  stack.getLogicalId(stack.node.findChild(id).node.findChild('ServiceRole').node.defaultChild as never),
);

test('three functions and the migration, all arm64 on provided.al2023', () => {
  const functions = template.findResources('AWS::Lambda::Function', {
    Properties: { Runtime: 'provided.al2023' },
  });
  assert.equal(Object.keys(functions).length, 4, 'predict, drift, train and migrate');
  for (const [id, fn] of Object.entries(functions)) {
    assert.deepEqual((fn as any).Properties.Architectures, ['arm64'], id);
    assert.equal((fn as any).Properties.Handler, 'bootstrap', id);
    assert.ok((fn as any).Properties.VpcConfig, `${id} runs in the VPC`);
  }
});

test('predict is behind a Function URL with AWS_IAM auth, and nothing else is public', () => {
  template.resourceCountIs('AWS::Lambda::Url', 1);
  template.hasResourceProperties('AWS::Lambda::Url', {
    AuthType: 'AWS_IAM',
    TargetFunctionArn: { 'Fn::GetAtt': [stack.getLogicalId(stack.functions.predict.node.defaultChild as never), 'Arn'] },
  });
  for (const [id, perm] of Object.entries(template.findResources('AWS::Lambda::Permission'))) {
    assert.notEqual((perm as any).Properties.Principal, '*', `${id} opens a function to anyone`);
  }
});

test('the store bucket is encrypted, versioned, logged and closed to the public', () => {
  template.hasResourceProperties('AWS::S3::Bucket', {
    BucketEncryption: {
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: Match.anyValue() } }],
    },
    PublicAccessBlockConfiguration: {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    },
    VersioningConfiguration: { Status: 'Enabled' },
    LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'store/' }),
  });
  const bucket = stack.getLogicalId(stack.bucket.node.defaultChild as never);
  template.hasResourceProperties('AWS::S3::BucketPolicy', {
    Bucket: { Ref: bucket },
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]),
    },
  });
});

test('RDS MySQL 8 is encrypted, protected, rotated, with the trigger-creation parameter', () => {
  template.hasResourceProperties('AWS::RDS::DBInstance', {
    Engine: 'mysql',
    EngineVersion: Match.stringLikeRegexp('^8\\.\\d+\\.\\d+$'),
    StorageEncrypted: true,
    DeletionProtection: true,
    PubliclyAccessible: false,
  });
  template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
    Parameters: { log_bin_trust_function_creators: '1' },
  });
  template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
  template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
});

test('no policy of our functions or of the bucket allows every action', () => {
  const wildcard = (action: unknown) =>
    (Array.isArray(action) ? action : [action]).some((a) => a === '*' || /^[a-z0-9-]+:\*$/.test(String(a)));
  const policies = template.findResources('AWS::IAM::Policy');
  let checked = 0;
  for (const [id, policy] of Object.entries(policies)) {
    const roles = ((policy as any).Properties.Roles ?? []).map((r: any) => r.Ref);
    if (!roles.some((r: string) => ourRoles.includes(r))) continue;
    checked += 1;
    for (const statement of (policy as any).Properties.PolicyDocument.Statement) {
      assert.ok(!wildcard(statement.Action), `${id}: ${JSON.stringify(statement.Action)}`);
      assert.notEqual(statement.Resource, '*', `${id}: ${JSON.stringify(statement)}`);
    }
  }
  assert.equal(checked, 4, 'one inline policy per function role');
  for (const [id, policy] of Object.entries(template.findResources('AWS::S3::BucketPolicy'))) {
    for (const statement of (policy as any).Properties.PolicyDocument.Statement) {
      if (statement.Effect === 'Allow') {
        assert.ok(!wildcard(statement.Action), `${id}: ${JSON.stringify(statement.Action)}`);
      }
    }
  }
});

test('predict may start drift, drift may start train, and their environment says which', () => {
  const env = (fn: keyof typeof stack.functions) =>
    (template.findResources('AWS::Lambda::Function')[stack.getLogicalId(stack.functions[fn].node.defaultChild as never)] as any)
      .Properties.Environment.Variables;
  assert.deepEqual(env('predict').DRIFTLOOP_DRIFT_FUNCTION, { Ref: stack.getLogicalId(stack.functions.drift.node.defaultChild as never) });
  assert.deepEqual(env('drift').DRIFTLOOP_TRAIN_FUNCTION, { Ref: stack.getLogicalId(stack.functions.train.node.defaultChild as never) });
  for (const fn of FUNCTIONS) {
    assert.ok(env(fn).DRIFTLOOP_DATABASE_SECRET_ARN, fn);
    assert.match(JSON.stringify(env(fn).DRIFTLOOP_STORE), /s3:\/\//, fn);
    assert.equal(env(fn).DRIFTLOOP_DATABASE_URL, undefined, `${fn} gets no password in its environment`);
  }
  const invokes = (caller: keyof typeof stack.functions, callee: keyof typeof stack.functions) => {
    const role = stack.getLogicalId(stack.functions[caller].role!.node.defaultChild as never);
    const calleeId = stack.getLogicalId(stack.functions[callee].node.defaultChild as never);
    return Object.values(template.findResources('AWS::IAM::Policy')).some(
      (p: any) =>
        p.Properties.Roles.some((r: any) => r.Ref === role) &&
        p.Properties.PolicyDocument.Statement.some(
          (s: any) => s.Action === 'lambda:InvokeFunction' && JSON.stringify(s.Resource).includes(calleeId),
        ),
    );
  };
  assert.ok(invokes('predict', 'drift'));
  assert.ok(invokes('drift', 'train'));
  assert.ok(!invokes('predict', 'train'), 'predict never starts a training itself');
});

test('EventBridge schedules run the drift and train functions', () => {
  const rules = template.findResources('AWS::Events::Rule', {
    Properties: { ScheduleExpression: Match.stringLikeRegexp('^rate\\(') },
  });
  const targets = Object.values(rules).map((r: any) => JSON.stringify(r.Properties.Targets));
  for (const fn of ['drift', 'train'] as const) {
    const id = stack.getLogicalId(stack.functions[fn].node.defaultChild as never);
    assert.ok(targets.some((t) => t.includes(id)), `${fn} has a schedule`);
  }
});

test('a custom resource applies sql/mysql on deploy, after the database exists', () => {
  const schema = template.findResources('Custom::DriftloopSchema');
  const [resource] = Object.values(schema) as any[];
  assert.match(resource.Properties.SqlHash, /^[0-9a-f]{64}$/);
  assert.ok(resource.DependsOn.some((d: string) => d.startsWith('Database')), JSON.stringify(resource.DependsOn));
});

test('a dataset file travels with every function, named by DRIFTLOOP_DATASET, and re-runs the schema', () => {
  const datasetFile = path.join(repo, 'data-fixtures', 'mental-health', 'dataset.toml');
  const withDataset = new DriftloopStack(new App(), 'WithDataset', {
    functionsDir: standInFunctions(),
    sqlDir: path.join(repo, 'sql', 'mysql'),
    datasetFile,
  });
  const packed = Template.fromStack(withDataset);
  const functions = packed.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'provided.al2023' } });
  assert.equal(Object.keys(functions).length, 4);
  for (const [id, fn] of Object.entries(functions)) {
    assert.equal((fn as any).Properties.Environment.Variables.DRIFTLOOP_DATASET, DATASET_PATH, id);
  }
  const [schema] = Object.values(packed.findResources('Custom::DriftloopSchema')) as any[];
  const expected = crypto.createHash('sha256').update(fs.readFileSync(datasetFile)).digest('hex');
  assert.equal(schema.Properties.DatasetHash, expected);
  const plain = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
  assert.ok(plain.every((fn) => fn.Properties.Environment?.Variables?.DRIFTLOOP_DATASET === undefined));
});

test('with W&B, train writes offline runs under tracking/wandb/ and nothing else gains access', () => {
  const withWandb = new DriftloopStack(new App(), 'WithWandb', {
    functionsDir: standInFunctions(),
    sqlDir: path.join(repo, 'sql', 'mysql'),
    wandb: { project: 'churn', entity: 'team' },
  });
  const synthesized = Template.fromStack(withWandb);
  const variables = (s: DriftloopStack, t: Template, fn: keyof typeof stack.functions) =>
    (t.findResources('AWS::Lambda::Function')[s.getLogicalId(s.functions[fn].node.defaultChild as never)] as any)
      .Properties.Environment.Variables;
  const train = variables(withWandb, synthesized, 'train');
  assert.equal(train.WANDB_MODE, 'offline');
  assert.equal(train.WANDB_PROJECT, 'churn');
  assert.equal(train.WANDB_ENTITY, 'team');
  assert.equal(train.WANDB_API_KEY, undefined, 'no key in the environment');
  for (const fn of ['predict', 'drift'] as const) {
    assert.equal(variables(withWandb, synthesized, fn).WANDB_MODE, undefined, fn);
  }
  const writes = (t: Template, s: DriftloopStack, fn: keyof typeof stack.functions) => {
    const role = s.getLogicalId(s.functions[fn].role!.node.defaultChild as never);
    return Object.values(t.findResources('AWS::IAM::Policy')).some(
      (p: any) =>
        p.Properties.Roles.some((r: any) => r.Ref === role) &&
        JSON.stringify(p.Properties.PolicyDocument).includes('driftloop/tracking/wandb/*'),
    );
  };
  assert.ok(writes(synthesized, withWandb, 'train'));
  assert.ok(!writes(synthesized, withWandb, 'drift') && !writes(synthesized, withWandb, 'predict'));
  assert.ok(!writes(template, stack, 'train'), 'without W&B nothing is written there');
  assert.equal(variables(stack, template, 'train').WANDB_MODE, undefined);
});

test('cdk-nag AWS Solutions: no unacknowledged finding', () => {
  const violations = synthWithNag(
    (app) =>
      new DriftloopStack(app, 'Driftloop', {
        functionsDir: standInFunctions(),
        sqlDir: path.join(repo, 'sql', 'mysql'),
        // With W&B on, so that the policy it adds is checked too.
        wandb: { project: 'driftloop' },
      }),
  );
  assert.deepEqual(
    violations.map((v) => `${v.ruleName} at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`),
    [],
  );
});

test('cdk-nag does run: an open bucket is reported', () => {
  const violations = synthWithNag((app) => {
    const open = new Stack(app, 'Open');
    new s3.Bucket(open, 'Open');
  });
  const rules = violations.map((v) => v.ruleName);
  assert.ok(rules.some((r) => r.includes('AwsSolutions-S10')), rules.join(', '));
});
