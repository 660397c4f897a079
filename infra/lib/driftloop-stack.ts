// driftloop on AWS: the predict, drift and train functions (prebuilt Rust binaries), RDS
// MySQL in isolated subnets, the S3 store, the SNS topic for notifications, the schedules
// that back up the asynchronous kicks, and a custom resource that applies sql/ on deploy.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  Duration,
  RemovalPolicy,
  Stack,
  StackProps,
  CfnOutput,
  CustomResource,
  Validations,
} from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** The three functions, named as `infra/build-functions` names their folders. */
export const FUNCTIONS = ['predict', 'drift', 'train'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

export interface DriftloopStackProps extends StackProps {
  /**
   * The folder holding `<name>/bootstrap` for each function: what `infra/build-functions`
   * writes (default: the repository's `target/lambda`).
   */
  readonly functionsDir: string;
  /** The folder of MySQL migrations applied on deploy (the repository's `sql/mysql`). */
  readonly sqlDir: string;
  /**
   * A dataset file (README, "Your own dataset") the functions run on: packed beside each
   * function's bootstrap as `dataset.toml` and named by `DRIFTLOOP_DATASET`. Unset, they
   * run on the shipped dataset, embedded in the binaries.
   */
  readonly datasetFile?: string;
  /**
   * Weights & Biases: every training is written as an offline W&B run into the store under
   * `tracking/wandb/` (the functions run in isolated subnets, with no route to W&B), for
   * `wandb sync` after copying the prefix down (README, "Training and the model registry").
   * Unset, nothing is written or sent.
   */
  readonly wandb?: WandbProps;
  /** Minutes between the drift function's scheduled runs (the backstop of predict's kick). */
  readonly driftEveryMinutes?: number;
  /** Minutes between the train function's scheduled runs (the backstop of drift's kick). */
  readonly trainEveryMinutes?: number;
}

/** Where offline W&B runs go: `WANDB_PROJECT` and `WANDB_ENTITY` of the train function. */
export interface WandbProps {
  /** The W&B project (default `driftloop`). */
  readonly project?: string;
  /** The W&B team or user (default: the key's own, at `wandb sync`). */
  readonly entity?: string;
}

/** A hash of every migration, so that a changed sql/ folder re-runs the schema resource. */
export function hashFolder(dir: string): string {
  const hash = crypto.createHash('sha256');
  for (const name of fs.readdirSync(dir).sort()) {
    hash.update(name);
    hash.update(fs.readFileSync(path.join(dir, name)));
  }
  return hash.digest('hex');
}

/** Where the deployed functions find a packed dataset file (Lambda unpacks to /var/task). */
export const DATASET_PATH = '/var/task/dataset.toml';

/**
 * The folder a function is packed from: its build folder, or with a dataset file a copy of
 * it that holds the file as `dataset.toml`.
 */
function functionAsset(functionsDir: string, name: FunctionName, datasetFile?: string): string {
  const built = path.join(functionsDir, name);
  if (datasetFile === undefined) {
    return built;
  }
  const staged = fs.mkdtempSync(path.join(os.tmpdir(), `driftloop-${name}-`));
  fs.cpSync(built, staged, { recursive: true });
  fs.copyFileSync(datasetFile, path.join(staged, 'dataset.toml'));
  return staged;
}

export class DriftloopStack extends Stack {
  readonly functions: Record<FunctionName, lambda.Function>;
  readonly bucket: s3.Bucket;
  readonly database: rds.DatabaseInstance;
  readonly topic: sns.Topic;
  readonly predictUrl: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: DriftloopStackProps) {
    super(scope, id, props);
    for (const name of FUNCTIONS) {
      const bootstrap = path.join(props.functionsDir, name, 'bootstrap');
      if (!fs.existsSync(bootstrap)) {
        throw new Error(`${bootstrap} is missing: build the functions first (infra/build-functions)`);
      }
    }

    // --- network: isolated subnets only; AWS services through endpoints -------------------
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH }),
      ),
    });
    vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const functionsSg = new ec2.SecurityGroup(this, 'FunctionsSg', {
      vpc,
      description: 'driftloop functions: outbound to the database and the VPC endpoints only',
      allowAllOutbound: true,
    });
    // Interface endpoints open to the functions' security group only (not the whole VPC).
    const endpoint = (id: string, service: ec2.InterfaceVpcEndpointAwsService) => {
      const created = vpc.addInterfaceEndpoint(id, { service, open: false });
      created.connections.allowDefaultPortFrom(functionsSg, 'driftloop functions');
      return created;
    };
    const secretsEndpoint = endpoint('SecretsManagerEndpoint', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
    endpoint('SnsEndpoint', ec2.InterfaceVpcEndpointAwsService.SNS);
    endpoint('LambdaEndpoint', ec2.InterfaceVpcEndpointAwsService.LAMBDA);

    // --- the feature database: RDS MySQL 8 ----------------------------------------------
    const engine = rds.DatabaseInstanceEngine.mysql({ version: rds.MysqlEngineVersion.VER_8_4_7 });
    this.database = new rds.DatabaseInstance(this, 'Database', {
      engine,
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      databaseName: 'driftloop',
      credentials: rds.Credentials.fromGeneratedSecret('driftloop_admin'),
      storageEncrypted: true,
      deletionProtection: true,
      multiAz: true,
      backupRetention: Duration.days(7),
      removalPolicy: RemovalPolicy.SNAPSHOT,
      cloudwatchLogsExports: ['error', 'slowquery'],
      cloudwatchLogsRetention: logs.RetentionDays.ONE_MONTH,
      // The trigger and the stored procedure of sql/ are created by a user without SUPER:
      // binary logging (on for backups) then needs this.
      parameterGroup: new rds.ParameterGroup(this, 'DatabaseParameters', {
        engine,
        description: 'driftloop: lets the migration user create the trigger and procedure',
        parameters: { log_bin_trust_function_creators: '1' },
      }),
    });
    this.database.connections.allowDefaultPortFrom(functionsSg, 'driftloop functions');
    this.database.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      endpoint: secretsEndpoint,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    });
    const secret = this.database.secret!;

    // --- the object store and its access log --------------------------------------------
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket receives the store bucket\'s access logs; logging it too would log the logs.',
    });
    this.bucket = new s3.Bucket(this, 'Store', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'store/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const store = `s3://${this.bucket.bucketName}/driftloop`;

    // --- notifications --------------------------------------------------------------------
    const topicKey = new kms.Key(this, 'TopicKey', {
      enableKeyRotation: true,
      description: 'driftloop notifications topic',
    });
    this.topic = new sns.Topic(this, 'Notifications', { enforceSSL: true, masterKey: topicKey });

    // --- the functions ----------------------------------------------------------------------
    const common = (id: string, name: FunctionName): lambda.FunctionProps => ({
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(functionAsset(props.functionsDir, name, props.datasetFile)),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [functionsSg],
      logGroup: new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH }),
      environment: {
        DRIFTLOOP_DATABASE_SECRET_ARN: secret.secretArn,
        DRIFTLOOP_STORE: store,
        RUST_LOG: 'info',
        ...(props.datasetFile === undefined ? {} : { DRIFTLOOP_DATASET: DATASET_PATH }),
      },
    });
    const train = new lambda.Function(this, 'Train', {
      ...common('Train', 'train'),
      description: 'driftloop train: claims train jobs, trains, registers and promotes models',
      memorySize: 3008,
      timeout: Duration.minutes(15),
    });
    train.addEnvironment('DRIFTLOOP_SNS_TOPIC_ARN', this.topic.topicArn);
    const drift = new lambda.Function(this, 'Drift', {
      ...common('Drift', 'drift'),
      description: 'driftloop drift: claims drift jobs, compares with the champion snapshot',
      memorySize: 2048,
      timeout: Duration.minutes(5),
    });
    drift.addEnvironment('DRIFTLOOP_SNS_TOPIC_ARN', this.topic.topicArn);
    drift.addEnvironment('DRIFTLOOP_TRAIN_FUNCTION', train.functionName);
    const predict = new lambda.Function(this, 'Predict', {
      ...common('Predict', 'predict'),
      description: 'driftloop predict: the HTTP API (score, store, label)',
      memorySize: 512,
      timeout: Duration.seconds(15),
    });
    predict.addEnvironment('DRIFTLOOP_DRIFT_FUNCTION', drift.functionName);
    this.functions = { predict, drift, train };

    // --- least privilege: each function gets the keys it uses --------------------------
    const storeArn = (prefix: string) => this.bucket.arnForObjects(`driftloop/${prefix}*`);
    const objects = (fn: lambda.Function, actions: string[], prefixes: string[]) =>
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: prefixes.map(storeArn) }));
    const listing = (fn: lambda.Function, prefixes: string[]) =>
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [this.bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `driftloop/${p}*`) } },
        }),
      );
    // predict reads model artifacts only.
    objects(predict, ['s3:GetObject'], ['models/']);
    // drift reads snapshots, writes the snapshot of a first reference and its reports.
    objects(drift, ['s3:GetObject', 's3:PutObject'], ['snapshots/', 'reports/']);
    listing(drift, ['snapshots/', 'reports/']);
    // train writes snapshots and models, and reads them back to verify and compare.
    objects(train, ['s3:GetObject', 's3:PutObject'], ['snapshots/', 'models/']);
    listing(train, ['snapshots/', 'models/']);
    if (props.wandb !== undefined) {
      // Offline W&B runs, written beside the models; `wandb sync` uploads them from a copy.
      train.addEnvironment('WANDB_MODE', 'offline');
      train.addEnvironment('WANDB_PROJECT', props.wandb.project ?? 'driftloop');
      if (props.wandb.entity !== undefined) {
        train.addEnvironment('WANDB_ENTITY', props.wandb.entity);
      }
      objects(train, ['s3:PutObject'], ['tracking/wandb/']);
    }
    for (const fn of [predict, drift, train]) {
      secret.grantRead(fn);
    }
    this.topic.grantPublish(drift);
    this.topic.grantPublish(train);
    drift.grantInvoke(predict);
    train.grantInvoke(drift);

    // --- the public entry: a Function URL signed with SigV4 ------------------------------
    this.predictUrl = predict.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });

    // --- schedules: the backstop when an asynchronous kick is lost -------------------------
    new events.Rule(this, 'DriftSchedule', {
      description: 'driftloop: drain pending drift jobs',
      schedule: events.Schedule.rate(Duration.minutes(props.driftEveryMinutes ?? 15)),
      targets: [new targets.LambdaFunction(drift, { retryAttempts: 2 })],
    });
    new events.Rule(this, 'TrainSchedule', {
      description: 'driftloop: drain pending train jobs',
      schedule: events.Schedule.rate(Duration.minutes(props.trainEveryMinutes ?? 60)),
      targets: [new targets.LambdaFunction(train, { retryAttempts: 2 })],
    });

    // --- the schema: sql/mysql applied on every deploy that changes it ------------------
    // The train binary answers CloudFormation's custom-resource events by migrating; a
    // function of its own (same asset, a role that reads only the secret) runs it.
    const migrate = new lambda.Function(this, 'Migrate', {
      ...common('Migrate', 'train'),
      description: 'driftloop migrate: applies sql/ to the database on deploy',
      memorySize: 512,
      timeout: Duration.minutes(5),
    });
    secret.grantRead(migrate);
    const provider = new cr.Provider(this, 'SchemaProvider', {
      onEventHandler: migrate,
      logGroup: new logs.LogGroup(this, 'SchemaProviderLogs', { retention: logs.RetentionDays.ONE_MONTH }),
    });
    const schema = new CustomResource(this, 'Schema', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::DriftloopSchema',
      // The feature table follows the dataset: another dataset file re-runs the schema
      // resource (and the migration refuses a database made for another dataset).
      properties: {
        SqlHash: hashFolder(props.sqlDir),
        ...(props.datasetFile === undefined
          ? {}
          : { DatasetHash: crypto.createHash('sha256').update(fs.readFileSync(props.datasetFile)).digest('hex') }),
      },
    });
    schema.node.addDependency(this.database);

    new CfnOutput(this, 'PredictUrl', { value: this.predictUrl.url });
    new CfnOutput(this, 'StoreUrl', { value: store });
    new CfnOutput(this, 'TopicArn', { value: this.topic.topicArn });
    new CfnOutput(this, 'DatabaseSecretArn', { value: secret.secretArn });

    this.acknowledge([predict, drift, train, migrate], provider);
  }

  /** The cdk-nag findings this design accepts, each with its reason. */
  private acknowledge(functions: lambda.Function[], provider: cr.Provider): void {
    const partition = '<AWS::Partition>';
    for (const fn of functions) {
      for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
        Validations.of(fn).acknowledge({
          id: `AwsSolutions-IAM4[Policy::arn:${partition}:iam::aws:policy/service-role/${policy}]`,
          reason:
            'The AWS-managed Lambda execution policies: logs to the function\'s own group and the VPC network interfaces it needs.',
        });
      }
    }
    const bucket = this.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    for (const fn of functions.slice(0, 3)) {
      for (const prefix of ['models/', 'snapshots/', 'reports/']) {
        Validations.of(fn).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/driftloop/${prefix}*]`,
          reason: `Objects under driftloop/${prefix} are content-addressed: their keys are not known before they are written.`,
        });
      }
      Validations.of(fn).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucket}.Arn>/driftloop/tracking/wandb/*]`,
        reason: 'Offline W&B runs are named by their time and run id: their keys are not known before they are written.',
      });
    }
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'The provider framework\'s own Node.js runtime is chosen by aws-cdk-lib.',
    });
    Validations.of(provider).acknowledge({
      id: `AwsSolutions-IAM4[Policy::arn:${partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]`,
      reason: 'The provider framework\'s function logs to its own group.',
    });
    const arn = (fn: lambda.Function) => `<${this.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*`;
    const [predict, drift, train, migrate] = functions;
    for (const [caller, callee] of [
      [predict, drift],
      [drift, train],
      [provider, migrate],
    ] as const) {
      Validations.of(caller).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${arn(callee)}]`,
        reason: 'Invoking any version or alias of that one function, as CDK\'s grantInvoke writes it.',
      });
    }
    for (const publisher of [drift, train]) {
      Validations.of(publisher).acknowledge({
        id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        reason: 'Publishing to the encrypted topic: data keys of the topic\'s own KMS key only.',
      });
    }
    // The RDS log groups' retention is set by CDK's log-retention function.
    const logRetention = this.node.children.find((c) => c.node.id.startsWith('LogRetention'));
    if (logRetention) {
      Validations.of(logRetention).acknowledge({
        id: `AwsSolutions-IAM4[Policy::arn:${partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]`,
        reason: 'CDK\'s log-retention function, which sets the retention of the RDS log groups, logs to its own group.',
      });
      Validations.of(logRetention).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'CDK\'s log-retention function sets the retention of log groups that RDS creates under names it picks.',
      });
    }
    Validations.of(this.database).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason: 'The database is reachable only from the functions\' security group; a non-default port adds no protection.',
    });
  }
}
