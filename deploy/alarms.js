'use strict';

// CloudWatch alarms for every function of serverless.yml, whatever functions it declares:
// a local Serverless Framework plugin (no account, no login) that adds the alarms of each
// function to the CloudFormation template while packaging:
//
//   <Fn>ErrorRateAlarm   Errors / Invocations over 5 minutes above custom.alarms.errorRatePercent
//                        (a function that crashed, timed out or ran out of memory; a handled
//                        error answered as a 4xx/5xx response is not a Lambda error: the
//                        API's 5xx alarm in serverless.yml watches those)
//   <Fn>ThrottlesAlarm   any throttled invocation in 5 minutes, for a function with its own
//                        reservedConcurrency only. The others share the account's regional
//                        concurrency, so a throttle there is an account-level event: the
//                        LambdaThrottlesAlarm of serverless.yml watches the account's metric
//                        (one alarm instead of one per function, which keeps the stack far
//                        from CloudFormation's 500 resources; docs/deploy.md#alarms).
//   <Fn>DurationAlarm    p95 duration over 2 of 3 periods of 5 minutes above
//                        custom.alarms.httpP95Ms for HTTP functions, and above
//                        otherP95TimeoutFraction of the timeout for jobs and workers
//
// Each alarm notifies the SNS topic custom.alarms.topic (a resource of serverless.yml) on
// ALARM and on OK. docs/deploy.md says what each one means and what to do.

class InvoiceflowAlarms {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:finalize': () => this.addAlarms(),
    };
  }

  settings() {
    const custom = this.serverless.service.custom || {};
    const alarms = custom.alarms || {};
    const number = (name) => {
      const value = Number(alarms[name]);
      if (!Number.isFinite(value) || value < 0) {
        throw new this.serverless.classes.Error(
          `custom.alarms.${name} must be a number (it is ${JSON.stringify(alarms[name])})`
        );
      }
      return value;
    };
    if (!alarms.topic) {
      throw new this.serverless.classes.Error('custom.alarms.topic must name the SNS topic resource');
    }
    return {
      topic: alarms.topic,
      errorRatePercent: number('errorRatePercent'),
      minInvocations: number('minInvocations'),
      httpP95Ms: number('httpP95Ms'),
      otherP95TimeoutFraction: number('otherP95TimeoutFraction'),
    };
  }

  addAlarms() {
    const service = this.serverless.service;
    const provider = this.serverless.getProvider('aws');
    const naming = provider.naming;
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    const config = this.settings();
    const stage = provider.getStage();
    const actions = { AlarmActions: [{ Ref: config.topic }], OKActions: [{ Ref: config.topic }] };

    for (const name of service.getAllFunctions()) {
      const fn = service.getFunction(name);
      const logicalId = naming.getNormalizedFunctionName(name);
      const functionRef = { Ref: naming.getLambdaLogicalId(name) };
      const dimensions = [{ Name: 'FunctionName', Value: functionRef }];
      const isHttp = (fn.events || []).some((event) => event.httpApi || event.http);
      const timeoutSeconds = Number(fn.timeout || service.provider.timeout || 6);
      const p95Ms = isHttp
        ? Math.min(config.httpP95Ms, timeoutSeconds * 1000 * config.otherP95TimeoutFraction)
        : timeoutSeconds * 1000 * config.otherP95TimeoutFraction;
      const alarmName = (what) => `${service.service}-${stage}-${name}-${what}`;
      const metric = (id, metricName) => ({
        Id: id,
        ReturnData: false,
        MetricStat: {
          Metric: { Namespace: 'AWS/Lambda', MetricName: metricName, Dimensions: dimensions },
          Period: 300,
          Stat: 'Sum',
        },
      });

      resources[`${logicalId}ErrorRateAlarm`] = {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: alarmName('error-rate'),
          AlarmDescription:
            `${name}: more than ${config.errorRatePercent}% of its invocations failed ` +
            '(an exception, a timeout or out of memory) over 5 minutes.',
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: config.errorRatePercent,
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
          Metrics: [
            metric('errors', 'Errors'),
            metric('invocations', 'Invocations'),
            {
              Id: 'rate',
              Label: 'Errors (% of invocations)',
              Expression: `IF(invocations >= ${config.minInvocations}, 100 * errors / invocations, 0)`,
              ReturnData: true,
            },
          ],
          ...actions,
        },
      };
      resources[`${logicalId}DurationAlarm`] = {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: alarmName('duration-p95'),
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
      if (fn.reservedConcurrency === undefined) continue;
      resources[`${logicalId}ThrottlesAlarm`] = {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: alarmName('throttles'),
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
}

module.exports = InvoiceflowAlarms;
