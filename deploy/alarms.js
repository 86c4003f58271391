'use strict';

// The CloudWatch alarms of every function of serverless.yml, whatever functions it
// declares, for the monitoring stack (serverless.monitoring.yml):
//
//   resources: ${file(./deploy/alarms.js):resources}
//
// A Serverless Framework file variable (no plugin, no account, no login) that reads the
// functions from serverless.yml and returns two alarms per function:
//
//   <Fn>ErrorRateAlarm   Errors / Invocations over 5 minutes above param alarmErrorRatePercent
//                        (fewer than alarmMinInvocations invocations never alarm). A Lambda
//                        error is an exception, a timeout or running out of memory; an error
//                        answered as a 4xx/5xx response is not one: the API's 5xx alarm
//                        (serverless.yml) watches those.
//   <Fn>DurationAlarm    p95 duration over 2 of 3 periods of 5 minutes above param
//                        alarmP95Ms for HTTP functions (at most 80 % of the timeout), and
//                        above 80 % of the timeout for jobs and workers.
//
// Throttles are watched once for the account (LambdaThrottlesAlarm in serverless.yml): no
// function has reserved concurrency, so all of them share the account's regional pool and
// a throttle is an account-level event. A function given reservedConcurrency gets a
// <Fn>ThrottlesAlarm of its own here.
//
// Why another stack: CloudFormation refuses a stack of more than 500 resources, and each
// HTTP function already costs the application stack five (function, log group, permission,
// integration, route). The alarms notify the application stack's AlarmTopic (exported as
// <service>-<stage>-AlarmTopicArn). docs/deploy.md says what each alarm means.

const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

const TIMEOUT_FRACTION = 0.8;

// serverless.yml parsed as YAML: names, timeouts and events, which are literal there.
function readService(file) {
  const document = yaml.load(fs.readFileSync(file, 'utf8'));
  return {
    service: document.service,
    defaultTimeout: Number(document.provider.timeout || 6),
    functions: document.functions || {},
  };
}

// The framework's logical-id normalization (naming.getNormalizedFunctionName).
function normalized(name) {
  const id = name.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return id[0].toUpperCase() + id.slice(1);
}

async function resources({ resolveVariable }) {
  const stage = await resolveVariable('sls:stage');
  const number = async (name) => {
    const value = Number(await resolveVariable(`param:${name}`));
    if (!Number.isFinite(value) || value < 0) throw new Error(`param ${name} must be a number`);
    return value;
  };
  const errorRatePercent = await number('alarmErrorRatePercent');
  const minInvocations = await number('alarmMinInvocations');
  const httpP95Ms = await number('alarmP95Ms');

  const app = readService(path.join(__dirname, '..', 'serverless.yml'));
  const topic = { 'Fn::ImportValue': `${app.service}-${stage}-AlarmTopicArn` };
  const actions = { AlarmActions: [topic], OKActions: [topic] };
  const Resources = {};

  for (const [name, fn] of Object.entries(app.functions)) {
    const functionName = fn.name || `${app.service}-${stage}-${name}`;
    const dimensions = [{ Name: 'FunctionName', Value: functionName }];
    const isHttp = (fn.events || []).some((event) => event.httpApi || event.http);
    const timeoutSeconds = Number(fn.timeout || app.defaultTimeout);
    const nearTimeoutMs = Math.round(timeoutSeconds * 1000 * TIMEOUT_FRACTION);
    const p95Ms = isHttp ? Math.min(httpP95Ms, nearTimeoutMs) : nearTimeoutMs;
    const id = normalized(name);
    const sum = (metricId, metricName) => ({
      Id: metricId,
      ReturnData: false,
      MetricStat: {
        Metric: { Namespace: 'AWS/Lambda', MetricName: metricName, Dimensions: dimensions },
        Period: 300,
        Stat: 'Sum',
      },
    });

    Resources[`${id}ErrorRateAlarm`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${functionName}-error-rate`,
        AlarmDescription:
          `${name}: more than ${errorRatePercent}% of its invocations failed ` +
          '(an exception, a timeout or out of memory) over 5 minutes.',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: errorRatePercent,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        Metrics: [
          sum('errors', 'Errors'),
          sum('invocations', 'Invocations'),
          {
            Id: 'rate',
            Label: 'Errors (% of invocations)',
            Expression: `IF(invocations >= ${minInvocations}, 100 * errors / invocations, 0)`,
            ReturnData: true,
          },
        ],
        ...actions,
      },
    };
    Resources[`${id}DurationAlarm`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${functionName}-duration-p95`,
        AlarmDescription:
          `${name}: p95 duration over ${p95Ms} ms (timeout ${timeoutSeconds} s) ` +
          'in 2 of 3 periods of 5 minutes.',
        Namespace: 'AWS/Lambda',
        MetricName: 'Duration',
        Dimensions: dimensions,
        ExtendedStatistic: 'p95',
        Period: 300,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        Threshold: p95Ms,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        ...actions,
      },
    };
    if (fn.reservedConcurrency !== undefined) {
      Resources[`${id}ThrottlesAlarm`] = {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: `${functionName}-throttles`,
          AlarmDescription:
            `${name}: invocations were throttled in 5 minutes ` +
            `(its reserved concurrency of ${fn.reservedConcurrency} was all in use).`,
          Namespace: 'AWS/Lambda',
          MetricName: 'Throttles',
          Dimensions: dimensions,
          Statistic: 'Sum',
          Period: 300,
          EvaluationPeriods: 1,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
          ...actions,
        },
      };
    }
  }
  return { Resources };
}

module.exports = { resources };
